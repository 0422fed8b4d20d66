package dev.kiln.ec2;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Puts a fresh {@link LoopbackAws} into the {@code LoopbackAws} field it annotates before each test
 * and closes it after the test, the way {@code @TempDir} gives each test a directory:
 * {@code @Loopback LoopbackAws aws;}.
 */
@Target(ElementType.FIELD)
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(Loopback.Servers.class)
public @interface Loopback {

  /** Starts the servers the annotated fields ask for, and closes them after the test. */
  final class Servers implements BeforeEachCallback, AfterEachCallback {
    private static final ExtensionContext.Namespace NS =
        ExtensionContext.Namespace.create(Servers.class);

    @Override
    public void beforeEach(ExtensionContext context) throws Exception {
      List<LoopbackAws> started = new ArrayList<>();
      context.getStore(NS).put("started", started);
      for (Object instance : context.getRequiredTestInstances().getAllInstances()) {
        for (Class<?> c = instance.getClass(); c != Object.class; c = c.getSuperclass()) {
          for (Field f : c.getDeclaredFields()) {
            if (!f.isAnnotationPresent(Loopback.class)) {
              continue;
            }
            if (f.getType() != LoopbackAws.class) {
              throw new IllegalStateException("@Loopback needs a LoopbackAws field, not " + f);
            }
            LoopbackAws aws = LoopbackAws.start();
            started.add(aws);
            f.setAccessible(true);
            f.set(instance, aws);
          }
        }
      }
    }

    @Override
    @SuppressWarnings("unchecked")
    public void afterEach(ExtensionContext context) {
      List<LoopbackAws> started = context.getStore(NS).remove("started", List.class);
      if (started != null) {
        started.forEach(LoopbackAws::close);
      }
    }
  }
}
