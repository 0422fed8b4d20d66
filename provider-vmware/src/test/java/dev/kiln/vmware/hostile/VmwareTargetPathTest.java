package dev.kiln.vmware.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.InvalidTargetException;
import dev.kiln.Target;
import dev.kiln.vmware.VmwareImageStores;
import org.junit.jupiter.api.Test;

/**
 * vmdk:, ova: and ovf: read their paths by core's one rule (TargetPaths): a file target may not
 * name a directory.
 */
class VmwareTargetPathTest {
  @Test
  void aFileTargetNamingADirectoryIsRefusedAndADirectoryTargetIsNot() {
    VmwareImageStores stores = new VmwareImageStores();
    for (String t : new String[] {"vmdk:/tmp/disks/", "ova:/tmp/out/..", "vmdk:."}) {
      assertThatThrownBy(() -> stores.create(Target.parse(t)))
          .as(t)
          .isInstanceOf(InvalidTargetException.class)
          .hasMessageContaining("names a directory");
    }
    assertThat(stores.create(Target.parse("ovf:/tmp/out/"))).isNotNull();
    assertThat(stores.create(Target.parse("vmdk:build/web.vmdk"))).isNotNull();
  }
}
