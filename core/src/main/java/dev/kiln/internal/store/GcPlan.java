package dev.kiln.internal.store;

import dev.kiln.Digest;
import dev.kiln.GcPolicy;
import dev.kiln.RetentionReport;
import dev.kiln.internal.store.GcScan.Blob;
import dev.kiln.internal.store.GcScan.Disk;
import dev.kiln.internal.store.GcScan.Image;
import dev.kiln.internal.store.GcScan.Key;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a {@link GcPolicy} removes of a {@link GcScan}, and why; what stays, and why. Pinned, recent
 * and last-named images stay with the image indexes' images, key entries and disks they keep; then
 * what refers to what is gone goes, then what is older than the policy's age, then the least
 * recently used while the store is over its size. A blob goes with the last image or key entry that
 * refers to it. {@link GcSweep} checks the plan under the lock before it deletes.
 */
final class GcPlan {
  private final Map<String, Blob> blobs;
  private final Map<String, Image> images;
  private final Map<String, Key> keys;
  private final Map<String, Disk> disks;

  final Map<String, String> removeImages = new LinkedHashMap<>();
  final Map<String, String> removeKeys = new LinkedHashMap<>();
  final Map<String, String> removeDisks = new LinkedHashMap<>();
  final Map<String, String> removeBlobs = new LinkedHashMap<>();
  final List<RetentionReport.Item> kept = new ArrayList<>();
  final Map<String, Integer> refCount = new HashMap<>();

  GcPlan(GcScan scan) {
    this.blobs = scan.blobs;
    this.images = scan.images;
    this.keys = scan.keys;
    this.disks = scan.disks;
  }

  /** Whether the plan removes anything. */
  boolean any() {
    return !removeImages.isEmpty()
        || !removeKeys.isEmpty()
        || !removeDisks.isEmpty()
        || !removeBlobs.isEmpty();
  }

  // ---- plan ----

  void plan(GcPolicy policy, long now) {
    Map<String, String> keepImages = new HashMap<>();
    for (Digest d : policy.pinned()) {
      if (images.containsKey(d.hex())) {
        keepImages.put(d.hex(), "pinned");
      }
    }
    policy
        .keepRecent()
        .ifPresent(
            age -> {
              for (Image img : images.values()) {
                if (img.lastUse >= now - age.toMillis()) {
                  keepImages.putIfAbsent(img.hex, "used within " + human(age));
                }
              }
            });
    policy
        .keepLast()
        .ifPresent(
            n -> {
              Map<String, List<Image>> byName = new HashMap<>();
              for (Image img : images.values()) {
                for (String name : img.names) {
                  byName.computeIfAbsent(name, k -> new ArrayList<>()).add(img);
                }
              }
              byName.forEach(
                  (name, list) -> {
                    list.sort(Comparator.comparingLong((Image i) -> i.lastUse).reversed());
                    for (Image img : list.subList(0, Math.min(n, list.size()))) {
                      keepImages.putIfAbsent(img.hex, "one of the last " + n + " of " + name);
                    }
                  });
            });
    // an image index kept keeps the images it lists
    List<String> todo = new ArrayList<>(keepImages.keySet());
    while (!todo.isEmpty()) {
      Image img = images.get(todo.remove(todo.size() - 1));
      for (String r : img.refs) {
        if (!r.equals(img.hex) && images.containsKey(r) && !keepImages.containsKey(r)) {
          keepImages.put(r, "listed by kept image index sha256:" + img.hex);
          todo.add(r);
        }
      }
    }
    Map<String, String> keepKeys = new HashMap<>();
    Map<String, List<String>> keysOfBlob = null;
    for (String hex : keepImages.keySet()) {
      Image img = images.get(hex);
      for (String k : img.layerKeys) {
        keepKeys.putIfAbsent(k, "a layer of kept image sha256:" + hex);
      }
      if (img.layersUnknown != null) {
        // which keys are its layers is not known: every key entry of a blob it refers to stays
        if (keysOfBlob == null) {
          keysOfBlob = new HashMap<>();
          for (Key k : keys.values()) {
            if (k.blob() != null) {
              keysOfBlob.computeIfAbsent(k.blob(), b -> new ArrayList<>()).add(k.hex());
            }
          }
        }
        for (String r : img.refs) {
          for (String k : keysOfBlob.getOrDefault(r, List.of())) {
            keepKeys.putIfAbsent(
                k, "names a blob of kept image sha256:" + hex + ", and " + img.layersUnknown);
          }
        }
      }
    }
    Map<String, String> keepDisks = new HashMap<>();
    for (Disk d : disks.values()) {
      if (d.layerKey() != null && keepKeys.containsKey(d.layerKey())) {
        keepDisks.put(d.hex(), "the disk of a kept image");
      }
    }

    // every reference counted; a blob no image or key names is an orphan
    for (Image img : images.values()) {
      img.refs.forEach(r -> refCount.merge(r, 1, Integer::sum));
    }
    for (Key k : keys.values()) {
      if (k.blob() != null && blobs.containsKey(k.blob())) {
        refCount.merge(k.blob(), 1, Integer::sum);
      }
    }
    long total = 0;
    for (Blob b : blobs.values()) {
      total += b.bytes();
      if (!refCount.containsKey(b.hex())) {
        if (b.mtime() < now - policy.grace().toMillis()) {
          removeBlobs.put(b.hex(), "nothing refers to it");
          total -= b.bytes();
        } else {
          kept.add(
              new RetentionReport.Item(
                  "blob",
                  "sha256:" + b.hex(),
                  b.bytes(),
                  "nothing refers to it, but it is newer than the grace period of "
                      + human(policy.grace())));
        }
      }
    }
    for (Disk d : disks.values()) {
      total += d.bytes();
    }

    // references to what is not there
    for (Key k : keys.values()) {
      if (k.blob() == null) {
        removeKeys.put(k.hex(), "unreadable: keys/" + k.hex() + ".json is not a key entry");
      } else if (!blobs.containsKey(k.blob())) {
        removeKeys.put(k.hex(), "its blob sha256:" + k.blob() + " is gone");
      }
    }
    for (Image img : images.values()) {
      if (img.manifestMissing && !keepImages.containsKey(img.hex)) {
        total -= removeImage(img, "its manifest is gone");
      }
    }

    // age
    if (policy.unusedFor().isPresent()) {
      Duration age = policy.unusedFor().get();
      long cutoff = now - age.toMillis();
      String why = "unused for more than " + human(age);
      for (Image img : images.values()) {
        if (img.lastUse < cutoff && !keepImages.containsKey(img.hex) && !blocked(img)) {
          total -= removeImage(img, why);
        }
      }
      for (Key k : keys.values()) {
        if (k.mtime() < cutoff && !keepKeys.containsKey(k.hex())) {
          total -= removeKey(k, why);
        }
      }
      for (Disk d : disks.values()) {
        if (d.mtime() < cutoff
            && !keepDisks.containsKey(d.hex())
            && !removeDisks.containsKey(d.hex())) {
          removeDisks.put(d.hex(), why);
          total -= d.bytes();
        }
      }
    }

    // size: least recently used first
    if (policy.maxBytes().isPresent() && total > policy.maxBytes().getAsLong()) {
      long max = policy.maxBytes().getAsLong();
      String why = "least recently used while the store held more than " + max + " bytes";
      List<Object[]> lru = new ArrayList<>();
      for (Image img : images.values()) {
        if (!keepImages.containsKey(img.hex) && !removeImages.containsKey(img.hex)) {
          lru.add(new Object[] {img.lastUse, img});
        }
      }
      for (Key k : keys.values()) {
        if (!keepKeys.containsKey(k.hex()) && !removeKeys.containsKey(k.hex())) {
          lru.add(new Object[] {k.mtime(), k});
        }
      }
      for (Disk d : disks.values()) {
        if (!keepDisks.containsKey(d.hex()) && !removeDisks.containsKey(d.hex())) {
          lru.add(new Object[] {d.mtime(), d});
        }
      }
      lru.sort(Comparator.comparingLong(o -> (Long) o[0]));
      for (Object[] o : lru) {
        if (total <= max) {
          break;
        }
        if (o[1] instanceof Image img) {
          if (!blocked(img)) {
            total -= removeImage(img, why);
          }
        } else if (o[1] instanceof Key k) {
          total -= removeKey(k, why);
        } else if (o[1] instanceof Disk d) {
          removeDisks.put(d.hex(), why);
          total -= d.bytes();
        }
      }
    }

    for (Image img : images.values()) {
      if (!removeImages.containsKey(img.hex)) {
        keep("image", img.hex, keepImages.getOrDefault(img.hex, "within the limits"));
      }
    }
    for (Key k : keys.values()) {
      if (!removeKeys.containsKey(k.hex())) {
        keep("key", k.hex(), keepKeys.getOrDefault(k.hex(), "within the limits"));
      }
    }
    for (Disk d : disks.values()) {
      if (!removeDisks.containsKey(d.hex())) {
        keep("disk", d.hex(), keepDisks.getOrDefault(d.hex(), "within the limits"));
      }
    }
  }

  void keep(String kind, String hex, String why) {
    kept.add(new RetentionReport.Item(kind, "sha256:" + hex, 0, why));
  }

  /** Whether another image (an image index) still lists this one. */
  private boolean blocked(Image img) {
    return refCount.getOrDefault(img.hex, 0) > 1;
  }

  /** Plans an image's removal; returns the bytes of the blobs that no longer have a reference. */
  private long removeImage(Image img, String why) {
    removeImages.put(img.hex, why);
    long freed = 0;
    for (String r : img.refs) {
      freed += release(r, "only image sha256:" + img.hex + " used it");
    }
    return freed;
  }

  private long removeKey(Key k, String why) {
    removeKeys.put(k.hex(), why);
    return k.blob() == null ? 0 : release(k.blob(), "only key sha256:" + k.hex() + " used it");
  }

  private long release(String blob, String why) {
    Integer n = refCount.get(blob);
    if (n == null) {
      return 0;
    }
    if (n > 1) {
      refCount.put(blob, n - 1);
      return 0;
    }
    refCount.remove(blob);
    removeBlobs.put(blob, why);
    return blobs.get(blob).bytes();
  }

  private static String human(Duration d) {
    if (d.toDays() > 0 && d.equals(Duration.ofDays(d.toDays()))) {
      return d.toDays() + " days";
    }
    if (d.toHours() > 0 && d.equals(Duration.ofHours(d.toHours()))) {
      return d.toHours() + " hours";
    }
    return d.toString();
  }
}
