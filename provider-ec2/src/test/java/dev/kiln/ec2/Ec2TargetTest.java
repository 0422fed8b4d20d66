package dev.kiln.ec2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.Digest;
import dev.kiln.InvalidTargetException;
import java.net.URI;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class Ec2TargetTest {
  static final String ORG = "arn:aws:organizations::111122223333:organization/o-abcdef1234";
  static final String OU = "arn:aws:organizations::111122223333:ou/o-abcdef1234/ou-ab12-cdef5678";

  @Test
  void parsesTheFullForm() {
    Ec2Target t =
        Ec2Target.parse(
            "ec2://eu-west-1/web?share=123456789012&share="
                + ORG
                + "&share="
                + OU
                + "&tag.team=platform&tag.cost%20center=42&copyTo=us-east-1&copyTo=ap-southeast-2&volumeType=gp2&size=20"
                + "&imds=optional&tpm=true&arch=x86_64&bootMode=uefi&deleteOnTermination=false&endpoint=http://127.0.0.1:4566");
    assertThat(t.region()).contains("eu-west-1");
    assertThat(t.name()).isEqualTo("web");
    assertThat(t.shareAccounts()).containsExactly("123456789012");
    assertThat(t.shareOrganizations()).containsExactly(ORG);
    assertThat(t.shareOrganizationalUnits()).containsExactly(OU);
    assertThat(t.tags())
        .containsExactly(
            java.util.Map.entry("team", "platform"), java.util.Map.entry("cost center", "42"));
    assertThat(t.copyRegions()).containsExactly("us-east-1", "ap-southeast-2");
    assertThat(t.volumeType()).isEqualTo("gp2");
    assertThat(t.rootVolumeSizeGiB()).hasValue(20);
    assertThat(t.imdsV2Required()).isFalse();
    assertThat(t.tpm()).isTrue();
    assertThat(t.architecture()).isEqualTo("x86_64");
    assertThat(t.bootMode()).isEqualTo("uefi");
    assertThat(t.deleteOnTermination()).isFalse();
    assertThat(t.ec2Endpoint()).contains(URI.create("http://127.0.0.1:4566"));
    assertThat(t.ebsEndpoint()).contains(URI.create("http://127.0.0.1:4566"));
    assertThat(Ec2Target.parse(t.toUri())).isEqualTo(t);
  }

  @Test
  void defaultsAreTheSafeOnes() {
    Ec2Target t = Ec2Target.parse("ec2://eu-west-1/web");
    assertThat(t.volumeType()).isEqualTo("gp3");
    assertThat(t.imdsV2Required()).isTrue();
    assertThat(t.tpm()).isFalse();
    assertThat(t.bootMode()).isEqualTo("uefi");
    assertThat(t.architecture()).isEqualTo("x86_64");
    assertThat(t.deleteOnTermination()).isTrue();
    assertThat(t.rootVolumeSizeGiB()).isEmpty();
    assertThat(t.credentials()).isEmpty();
    assertThat(t.toUri()).isEqualTo("ec2://eu-west-1/web");
    assertThat(t.amiName(Digest.of(new byte[0])))
        .isEqualTo("web-" + Digest.of(new byte[0]).hex().substring(0, 12));
  }

  @Test
  void anEmptyRegionMeansTheDefaultChain() {
    assertThat(Ec2Target.parse("ec2:///web").region()).isEmpty();
    assertThat(Ec2Target.inDefaultRegion("web").toUri()).isEqualTo("ec2:///web");
  }

  @Test
  void theTypedFormEqualsTheParsedOne() {
    Ec2Target typed =
        Ec2Target.of("eu-west-1", "web").share("123456789012").tag("team", "x").copyTo("us-east-1");
    assertThat(typed)
        .isEqualTo(
            Ec2Target.parse("ec2://eu-west-1/web?share=123456789012&copyTo=us-east-1&tag.team=x"));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "ec2:/eu-west-1/web",
        "s3://eu-west-1/web",
        "ec2://eu-west-1",
        "ec2://Europe/web",
        "ec2://eu-west-1/w",
        "ec2://eu-west-1/web*",
        "ec2://eu-west-1/web?share=12345",
        "ec2://eu-west-1/web?share=arn:aws:iam::111122223333:root",
        "ec2://eu-west-1/web?copyTo=eu-west-1",
        "ec2://eu-west-1/web?copyTo=mars",
        "ec2://eu-west-1/web?tag.kiln:digest=x",
        "ec2://eu-west-1/web?tag.aws:x=y",
        "ec2://eu-west-1/web?volumeType=gp9",
        "ec2://eu-west-1/web?size=0",
        "ec2://eu-west-1/web?imds=v3",
        "ec2://eu-west-1/web?tpm=yes",
        "ec2://eu-west-1/web?tpm=true&bootMode=legacy-bios",
        "ec2://eu-west-1/web?endpoint=ftp://x",
        "ec2://eu-west-1/web?colour=blue"
      })
  void badTargetsAreRefusedWithWhatWasExpected(String bad) {
    assertThatThrownBy(() -> Ec2Target.parse(bad))
        .isInstanceOf(InvalidTargetException.class)
        .hasMessageContaining("expect");
  }

  @Test
  void anUnknownParameterNamesTheKnownOnes() {
    assertThatThrownBy(() -> Ec2Target.parse("ec2://eu-west-1/web?colour=blue"))
        .hasMessageContaining("unknown parameter 'colour'")
        .hasMessageContaining("share");
  }

  @Test
  void isACoreTargetAndComesFromOne() {
    Ec2Target t =
        Ec2Target.from(dev.kiln.Target.parse("ec2://eu-west-1/web?share=123456789012&tag.team=x"));
    assertThat(t.scheme()).isEqualTo("ec2");
    assertThat(t.shareAccounts()).containsExactly("123456789012");
    assertThat(Ec2Target.from(t)).isSameAs(t);
    assertThat(dev.kiln.Target.parse(t.toString()).scheme()).isEqualTo("ec2");
  }

  @Test
  void credentialsAreNotPartOfTheUri() {
    Ec2Target t =
        Ec2Target.of("eu-west-1", "web")
            .credentials(
                software.amazon.awssdk.auth.credentials.AnonymousCredentialsProvider.create());
    assertThat(t.toUri()).isEqualTo("ec2://eu-west-1/web");
    assertThat(t.credentials()).isPresent();
  }
}
