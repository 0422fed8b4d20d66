package dev.kiln.ec2;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Function;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ec2.model.DescribeImagesRequest;
import software.amazon.awssdk.services.ec2.model.DescribeImagesResponse;
import software.amazon.awssdk.services.ec2.model.DescribeSnapshotsRequest;
import software.amazon.awssdk.services.ec2.model.DescribeSnapshotsResponse;
import software.amazon.awssdk.services.ec2.model.Image;
import software.amazon.awssdk.services.ec2.model.Snapshot;

/**
 * Every page of an EC2 Describe call: the call is repeated with each answer's {@code NextToken}
 * until an answer has none (null or empty).
 */
final class Ec2Pages {
  private Ec2Pages() {}

  /**
   * The items of every page: {@code page} makes the call for a token (null for the first page),
   * {@code items} and {@code next} read an answer's items and its next token.
   */
  static <R, T> List<T> all(
      Function<String, R> page, Function<R, List<T>> items, Function<R, String> next) {
    List<T> out = new ArrayList<>();
    String token = null;
    do {
      R r = page.apply(token);
      out.addAll(items.apply(r));
      token = next.apply(r);
    } while (token != null && !token.isEmpty());
    return out;
  }

  /** Every image DescribeImages finds for {@code request}. */
  static List<Image> images(Ec2Client ec2, Consumer<DescribeImagesRequest.Builder> request) {
    return all(
        t ->
            ec2.describeImages(
                b -> {
                  request.accept(b);
                  b.nextToken(t);
                }),
        DescribeImagesResponse::images,
        DescribeImagesResponse::nextToken);
  }

  /** Every snapshot DescribeSnapshots finds for {@code request}. */
  static List<Snapshot> snapshots(
      Ec2Client ec2, Consumer<DescribeSnapshotsRequest.Builder> request) {
    return all(
        t ->
            ec2.describeSnapshots(
                b -> {
                  request.accept(b);
                  b.nextToken(t);
                }),
        DescribeSnapshotsResponse::snapshots,
        DescribeSnapshotsResponse::nextToken);
  }
}
