package dev.kiln.vmware.internal.vsphere;

import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import java.util.List;
import java.util.UUID;

/**
 * The request bodies {@link ContentLibraryClient} sends to vCenter's content library REST API, as
 * records with a fixed property order and the API's snake_case names.
 */
final class LibraryRequests {
  private LibraryRequests() {}

  /** A fresh client token: a retried create is then applied once. */
  static String token() {
    return UUID.randomUUID().toString();
  }

  record NameSpec(String name) {}

  /** {@code library?~action=find}. */
  record FindLibrary(NameSpec spec) {}

  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  @JsonPropertyOrder({"type", "datastore_id"})
  record StorageBacking(String type, String datastoreId) {}

  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  @JsonPropertyOrder({"name", "type", "storage_backings"})
  record LibrarySpec(String name, String type, List<StorageBacking> storageBackings) {}

  /** {@code local-library}: create. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  @JsonPropertyOrder({"client_token", "create_spec"})
  record CreateLibrary(String clientToken, LibrarySpec createSpec) {}

  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  @JsonPropertyOrder({"name", "library_id"})
  record ItemFindSpec(String name, String libraryId) {}

  /** {@code library/item?~action=find}. */
  record FindItem(ItemFindSpec spec) {}

  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  @JsonPropertyOrder({"library_id", "name", "type", "description"})
  record ItemSpec(String libraryId, String name, String type, String description) {}

  /** {@code library/item}: create. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  @JsonPropertyOrder({"client_token", "create_spec"})
  record CreateItem(String clientToken, ItemSpec createSpec) {}

  record DescriptionSpec(String description) {}

  /** {@code library/item/id:ID}: update. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  record UpdateItem(DescriptionSpec updateSpec) {}

  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  record SessionSpec(String libraryItemId) {}

  /** {@code library/item/update-session} and {@code download-session}: create. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  @JsonPropertyOrder({"client_token", "create_spec"})
  record CreateSession(String clientToken, SessionSpec createSpec) {}

  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  @JsonPropertyOrder({"name", "source_type", "size"})
  record FileSpec(String name, String sourceType, long size) {}

  /** {@code updatesession/file/id:ID?~action=add}. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  record AddFile(FileSpec fileSpec) {}

  /** {@code downloadsession/file/id:ID?~action=prepare}. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  record PrepareFile(String fileName) {}
}
