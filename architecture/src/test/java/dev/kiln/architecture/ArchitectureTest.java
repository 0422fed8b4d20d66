package dev.kiln.architecture;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noMethods;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaMethod;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The package rules of docs/architecture.md, over the main classes of core, of every provider
 * module and of the sbom module: providers (and the sbom module) use only the API and the SPI, and
 * not each other; the SPI and the disk code never reach into the engine; no package cycles; fluent
 * setters are named after their property.
 */
class ArchitectureTest {
  static final List<String> PROVIDERS =
      List.of(
          "dev.kiln.docker..",
          "dev.kiln.ec2..",
          "dev.kiln.vmware..",
          "dev.kiln.s3..",
          "dev.kiln.sbom..");

  /**
   * The {@code with…} setters kept because their bare name would mean something else (each says why
   * in its javadoc; docs/architecture.md, "Naming", lists them): owner class and method name.
   */
  static final Set<String> WITH_SETTERS_KEPT =
      Set.of("dev.kiln.vmware.internal.vsphere.ImportSpec.withConfig");

  static JavaClasses classes;

  @BeforeAll
  static void importClasses() {
    classes =
        new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("dev.kiln");
  }

  @Test
  void everyModuleIsChecked() {
    for (String p :
        List.of(
            "dev.kiln.internal.graph",
            "dev.kiln.docker",
            "dev.kiln.ec2",
            "dev.kiln.vmware",
            "dev.kiln.s3",
            "dev.kiln.sbom")) {
      assertTrue(
          classes.stream().anyMatch(c -> c.getPackageName().equals(p)),
          "no classes of " + p + " on the class path: the rules would check nothing there");
    }
  }

  @Test
  void providersUseNoInternals() {
    providersRule().check(classes);
  }

  static ArchRule providersRule() {
    return noClasses()
        .that()
        .resideInAnyPackage(PROVIDERS.toArray(String[]::new))
        .should()
        .dependOnClassesThat()
        .resideInAPackage("dev.kiln.internal..")
        .because("providers see Kiln through its API and SPI only");
  }

  @Test
  void providersDoNotUseEachOther() {
    for (String p : PROVIDERS) {
      String[] others = PROVIDERS.stream().filter(o -> !o.equals(p)).toArray(String[]::new);
      noClasses()
          .that()
          .resideInAPackage(p)
          .should()
          .dependOnClassesThat()
          .resideInAnyPackage(others)
          .because("a provider module can be left off the class path without breaking another")
          .check(classes);
    }
  }

  @Test
  void spiAndDiskDoNotReachIntoTheEngine() {
    noClasses()
        .that()
        .resideInAnyPackage("dev.kiln.spi..", "dev.kiln.disk..")
        .should()
        .dependOnClassesThat()
        .resideInAPackage("dev.kiln.internal..")
        .because(
            "the SPI and the disk code are contracts and libraries the engine uses, not the other way round")
        .check(classes);
  }

  @Test
  void noPackageCycles() {
    slices().matching("dev.kiln.(**)").should().beFreeOfCycles().check(classes);
  }

  @Test
  void noCyclesBetweenAreas() {
    slices().matching("dev.kiln.(*)..").should().beFreeOfCycles().check(classes);
  }

  @Test
  void fluentSettersAreNamedAfterTheirProperty() {
    settersRule().check(classes);
  }

  @Test
  void theSetterRuleCatchesANewWithSetter() {
    JavaClasses fixtures = new ClassFileImporter().importClasses(Setters.class);
    AssertionError e = assertThrows(AssertionError.class, () -> settersRule().check(fixtures));
    assertTrue(e.getMessage().contains("Setters.withColour("), e.getMessage());
    assertTrue(!e.getMessage().contains("withShape"), e.getMessage()); // deprecated
    assertTrue(!e.getMessage().contains("withSize"), e.getMessage()); // returns another type
  }

  /**
   * No public method named {@code with[A-Z]…} that returns its own declaring type (a fluent setter
   * or copy-with) unless it is deprecated (kept for callers of an older release, beside its
   * bare-named replacement) or listed in {@link #WITH_SETTERS_KEPT}.
   */
  static ArchRule settersRule() {
    return noMethods()
        .that()
        .haveNameMatching("with[A-Z].*")
        .and(
            DescribedPredicate.describe(
                "return their declaring type",
                (JavaMethod m) -> m.getRawReturnType().equals(m.getOwner())))
        .and()
        .areNotAnnotatedWith(Deprecated.class)
        .and(
            DescribedPredicate.describe(
                "are not listed as kept",
                (JavaMethod m) ->
                    !WITH_SETTERS_KEPT.contains(m.getOwner().getName() + "." + m.getName())))
        .should()
        .bePublic()
        .because(
            "a fluent setter on a public value or builder is named after its property, as"
                + " kernelArgs(..) is (docs/architecture.md, \"Naming\")");
  }

  /** A value with one setter of each kind the setter rule tells apart. */
  static final class Setters {
    public Setters withColour(String colour) {
      return this;
    }

    /**
     * @deprecated use {@link #shape}
     */
    @Deprecated
    public Setters withShape(String shape) {
      return shape(shape);
    }

    public Setters shape(String shape) {
      return this;
    }

    public int withSize() {
      return 0;
    }
  }
}
