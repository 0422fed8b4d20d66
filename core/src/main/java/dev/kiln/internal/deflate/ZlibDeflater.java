/*
 * A Java translation of deflate.c from zlib 1.2.13, altered for Kiln: restricted to raw deflate with a 32 KiB
 * window, memLevel 8 and the default strategy, and rewritten in Java. It is not the original software.
 *
 * zlib's licence and copyright notice, kept as it requires:
 *
 * Copyright (C) 1995-2022 Jean-loup Gailly and Mark Adler
 *
 * This software is provided 'as-is', without any express or implied warranty. In no event will the
 * authors be held liable for any damages arising from the use of this software.
 *
 * Permission is granted to anyone to use this software for any purpose, including commercial
 * applications, and to alter it and redistribute it freely, subject to the following restrictions:
 *
 * 1. The origin of this software must not be misrepresented; you must not claim that you wrote the
 *    original software. If you use this software in a product, an acknowledgment in the product
 *    documentation would be appreciated but is not required.
 * 2. Altered source versions must be plainly marked as such, and must not be misrepresented as
 *    being the original software.
 * 3. This notice may not be removed or altered from any source distribution.
 */
package dev.kiln.internal.deflate;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkState;

import java.util.Objects;

/**
 * Raw deflate in pure Java, producing exactly the bytes of standard zlib 1.2.13 (the zlib of Debian
 * 12, and of any JDK that bundles or links an unmodified zlib 1.2.x from 1.2.12 on): a port of
 * {@code deflate.c} (Jean-loup Gailly and Mark Adler; zlib licence) restricted to what Kiln uses —
 * raw deflate, window 32 KiB, memLevel 8, the default strategy, levels 0-9, a preset dictionary and
 * {@link #NO_FLUSH}, {@link #SYNC_FLUSH} and {@link #FINISH}. Every decision that shapes the output
 * (the match search, the lazy evaluation, where blocks end, how the dictionary is hashed, how
 * stored blocks are cut for the output space given) follows zlib line by line; {@link ZlibTrees} is
 * the block coder. Not thread-safe.
 */
final class ZlibDeflater implements DeflateEngine {
  static final int MIN_MATCH = 3;
  static final int MAX_MATCH = 258;
  private static final int MIN_LOOKAHEAD = MAX_MATCH + MIN_MATCH + 1;
  private static final int TOO_FAR = 4096;
  private static final int MAX_STORED = 65535;
  private static final int W_BITS = 15;
  private static final int W_SIZE = 1 << W_BITS;
  private static final int W_MASK = W_SIZE - 1;
  private static final int MAX_DIST = W_SIZE - MIN_LOOKAHEAD;
  private static final int MEM_LEVEL = 8;
  private static final int HASH_BITS = MEM_LEVEL + 7;
  private static final int HASH_SIZE = 1 << HASH_BITS;
  private static final int HASH_MASK = HASH_SIZE - 1;
  private static final int HASH_SHIFT = (HASH_BITS + MIN_MATCH - 1) / MIN_MATCH;
  private static final int LIT_BUFSIZE = 1 << (MEM_LEVEL + 6);
  private static final int WINDOW_SIZE = 2 * W_SIZE;

  private static final int BUSY_STATE = 113;
  private static final int FINISH_STATE = 666;

  private static final int NEED_MORE = 0;
  private static final int BLOCK_DONE = 1;
  private static final int FINISH_STARTED = 2;
  private static final int FINISH_DONE = 3;

  // good, lazy, nice, chain per level, as zlib's configuration_table; level 0 stores
  private static final int[][] CONFIG = {
    {0, 0, 0, 0},
    {4, 4, 8, 4},
    {4, 5, 16, 8},
    {4, 6, 32, 32},
    {4, 4, 16, 16},
    {8, 16, 32, 32},
    {8, 16, 128, 128},
    {8, 32, 128, 256},
    {32, 128, 258, 1024},
    {32, 258, 258, 4096}
  };

  private final int level;
  private final ZlibTrees trees = new ZlibTrees(LIT_BUFSIZE);
  // MAX_MATCH spare bytes: the match loop may look past the data (the result is cut to it)
  private final byte[] window = new byte[WINDOW_SIZE + MAX_MATCH];
  private final short[] prev = new short[W_SIZE];
  private final short[] head = new short[HASH_SIZE];
  private boolean ended;

  private int status;
  private int lastFlush;
  private int strstart;
  private long blockStart;
  private int lookahead;
  private int insert;
  private int insH;
  private int matchLength;
  private int prevLength;
  private int prevMatch;
  private boolean matchAvailable;
  private int matchStart;
  private final int maxLazyMatch;
  private final int goodMatch;
  private final int niceMatch;
  private final int maxChainLength;

  private byte[] nextIn = new byte[0];
  private int nextInIndex;
  private int availIn;
  private byte[] nextOut;
  private int nextOutIndex;
  private int availOut;

  ZlibDeflater(int level) {
    checkArgument(level >= 0 && level <= 9, "deflate level must be 0-9, found %s", level);
    this.level = level;
    this.goodMatch = CONFIG[level][0];
    this.maxLazyMatch = CONFIG[level][1];
    this.niceMatch = CONFIG[level][2];
    this.maxChainLength = CONFIG[level][3];
    reset();
  }

  @Override
  public int level() {
    return level;
  }

  /** deflateReset(): a fresh raw stream at the same level. */
  @Override
  public void reset() {
    checkState(!ended, "deflater already ended");
    trees.init();
    status = BUSY_STATE;
    lastFlush = -2;
    // lm_init()
    java.util.Arrays.fill(head, (short) 0);
    strstart = 0;
    blockStart = 0;
    lookahead = 0;
    insert = 0;
    matchLength = prevLength = MIN_MATCH - 1;
    matchAvailable = false;
    insH = 0;
    nextIn = new byte[0];
    nextInIndex = 0;
    availIn = 0;
  }

  @Override
  public void end() {
    ended = true;
  }

  @Override
  public void setInput(byte[] b, int off, int len) {
    Objects.checkFromIndexSize(off, len, b.length);
    nextIn = b;
    nextInIndex = off;
    availIn = len;
  }

  @Override
  public boolean needsInput() {
    return availIn == 0;
  }

  @Override
  public boolean finished() {
    return status == FINISH_STATE && trees.pending == 0;
  }

  /** deflateSetDictionary() of a raw stream. */
  @Override
  public void setDictionary(byte[] b, int off, int len) {
    Objects.checkFromIndexSize(off, len, b.length);
    checkState(
        !ended && lookahead == 0, "the dictionary must be set before any input is compressed");
    if (len >= W_SIZE) {
      java.util.Arrays.fill(head, (short) 0);
      strstart = 0;
      blockStart = 0;
      insert = 0;
      off += len - W_SIZE;
      len = W_SIZE;
    }
    byte[] savedIn = nextIn;
    int savedIndex = nextInIndex;
    int savedAvail = availIn;
    nextIn = b;
    nextInIndex = off;
    availIn = len;
    fillWindow();
    while (lookahead >= MIN_MATCH) {
      int str = strstart;
      int n = lookahead - (MIN_MATCH - 1);
      do {
        insH = ((insH << HASH_SHIFT) ^ (window[str + MIN_MATCH - 1] & 0xff)) & HASH_MASK;
        prev[str & W_MASK] = head[insH];
        head[insH] = (short) str;
        str++;
      } while (--n != 0);
      strstart = str;
      lookahead = MIN_MATCH - 1;
      fillWindow();
    }
    strstart += lookahead;
    blockStart = strstart;
    insert = lookahead;
    lookahead = 0;
    matchLength = prevLength = MIN_MATCH - 1;
    matchAvailable = false;
    nextIn = savedIn;
    nextInIndex = savedIndex;
    availIn = savedAvail;
  }

  private static int rank(int f) {
    return (f * 2) - (f > 4 ? 9 : 0);
  }

  /** deflate() of a raw stream; returns the number of bytes written to {@code out}. */
  @Override
  public int deflate(byte[] out, int off, int len, int flush) {
    Objects.checkFromIndexSize(off, len, out.length);
    checkArgument(
        flush == NO_FLUSH || flush == SYNC_FLUSH || flush == FINISH,
        "unsupported flush mode %s",
        flush);
    checkState(!ended, "deflater already ended");
    checkArgument(len > 0, "no room for output");
    nextOut = out;
    nextOutIndex = off;
    availOut = len;
    if (status == FINISH_STATE && flush != FINISH) {
      throw new IllegalStateException("deflate stream already finished");
    }
    int oldFlush = lastFlush;
    lastFlush = flush;
    if (trees.pending != 0) {
      flushPending();
      if (availOut == 0) {
        lastFlush = -1;
        return nextOutIndex - off;
      }
    } else if (availIn == 0 && rank(flush) <= rank(oldFlush) && flush != FINISH) {
      return 0; // Z_BUF_ERROR: nothing to do
    }
    if (status == FINISH_STATE && availIn != 0) {
      throw new IllegalStateException("input after the stream was finished");
    }
    if (availIn != 0 || lookahead != 0 || (flush != NO_FLUSH && status != FINISH_STATE)) {
      int bstate =
          level == 0 ? deflateStored(flush) : level <= 3 ? deflateFast(flush) : deflateSlow(flush);
      if (bstate == FINISH_STARTED || bstate == FINISH_DONE) {
        status = FINISH_STATE;
      }
      if (bstate == NEED_MORE || bstate == FINISH_STARTED) {
        if (availOut == 0) {
          lastFlush = -1;
        }
        return nextOutIndex - off;
      }
      if (bstate == BLOCK_DONE) {
        // SYNC_FLUSH: an empty stored block ends the output on a byte boundary
        trees.storedBlock(null, 0, 0, false);
        flushPending();
        if (availOut == 0) {
          lastFlush = -1;
          return nextOutIndex - off;
        }
      }
    }
    return nextOutIndex - off;
  }

  /** flush_pending(): copies as much pending output as fits. */
  private void flushPending() {
    trees.biFlush();
    int len = Math.min(trees.pending, availOut);
    if (len == 0) {
      return;
    }
    System.arraycopy(trees.pendingBuf, trees.pendingOut, nextOut, nextOutIndex, len);
    nextOutIndex += len;
    trees.pendingOut += len;
    availOut -= len;
    trees.pending -= len;
    if (trees.pending == 0) {
      trees.pendingOut = 0;
    }
  }

  private int readBuf(byte[] buf, int off, int size) {
    int len = Math.min(availIn, size);
    if (len == 0) {
      return 0;
    }
    availIn -= len;
    System.arraycopy(nextIn, nextInIndex, buf, off, len);
    nextInIndex += len;
    return len;
  }

  private void slideHash() {
    for (int n = 0; n < HASH_SIZE; n++) {
      int m = head[n] & 0xffff;
      head[n] = (short) (m >= W_SIZE ? m - W_SIZE : 0);
    }
    for (int n = 0; n < W_SIZE; n++) {
      int m = prev[n] & 0xffff;
      prev[n] = (short) (m >= W_SIZE ? m - W_SIZE : 0);
    }
  }

  /** fill_window(): slides the window when needed and reads input, hashing pending inserts. */
  private void fillWindow() {
    do {
      int more = WINDOW_SIZE - lookahead - strstart;
      if (strstart >= W_SIZE + MAX_DIST) {
        System.arraycopy(window, W_SIZE, window, 0, W_SIZE - more);
        matchStart -= W_SIZE;
        strstart -= W_SIZE;
        blockStart -= W_SIZE;
        if (insert > strstart) {
          insert = strstart;
        }
        slideHash();
        more += W_SIZE;
      }
      if (availIn == 0) {
        break;
      }
      int n = readBuf(window, strstart + lookahead, more);
      lookahead += n;
      if (lookahead + insert >= MIN_MATCH) {
        int str = strstart - insert;
        insH = window[str] & 0xff;
        insH = ((insH << HASH_SHIFT) ^ (window[str + 1] & 0xff)) & HASH_MASK;
        while (insert != 0) {
          insH = ((insH << HASH_SHIFT) ^ (window[str + MIN_MATCH - 1] & 0xff)) & HASH_MASK;
          prev[str & W_MASK] = head[insH];
          head[insH] = (short) str;
          str++;
          insert--;
          if (lookahead + insert < MIN_MATCH) {
            break;
          }
        }
      }
    } while (lookahead < MIN_LOOKAHEAD && availIn != 0);
  }

  /**
   * INSERT_STRING(): hashes the string at {@code str} and returns the previous head of its chain.
   */
  private int insertString(int str) {
    insH = ((insH << HASH_SHIFT) ^ (window[str + MIN_MATCH - 1] & 0xff)) & HASH_MASK;
    int h = head[insH] & 0xffff;
    prev[str & W_MASK] = (short) h;
    head[insH] = (short) str;
    return h;
  }

  private int longestMatch(int curMatch) {
    int chainLength = maxChainLength;
    int scan = strstart;
    int bestLen = prevLength;
    int nice = niceMatch;
    int limit = strstart > MAX_DIST ? strstart - MAX_DIST : 0;
    int strend = strstart + MAX_MATCH;
    byte scanEnd1 = window[scan + bestLen - 1];
    byte scanEnd = window[scan + bestLen];
    if (prevLength >= goodMatch) {
      chainLength >>= 2;
    }
    if (nice > lookahead) {
      nice = lookahead;
    }
    byte[] w = window;
    do {
      int match = curMatch;
      if (w[match + bestLen] != scanEnd
          || w[match + bestLen - 1] != scanEnd1
          || w[match] != w[scan]
          || w[++match] != w[scan + 1]) {
        continue;
      }
      scan += 2;
      match++;
      while (w[++scan] == w[++match]
          && w[++scan] == w[++match]
          && w[++scan] == w[++match]
          && w[++scan] == w[++match]
          && w[++scan] == w[++match]
          && w[++scan] == w[++match]
          && w[++scan] == w[++match]
          && w[++scan] == w[++match]
          && scan < strend) {
        // compare eight bytes at a time, as zlib
      }
      int len = MAX_MATCH - (strend - scan);
      scan = strend - MAX_MATCH;
      if (len > bestLen) {
        matchStart = curMatch;
        bestLen = len;
        if (len >= nice) {
          break;
        }
        scanEnd1 = w[scan + bestLen - 1];
        scanEnd = w[scan + bestLen];
      }
    } while ((curMatch = prev[curMatch & W_MASK] & 0xffff) > limit && --chainLength != 0);
    return Math.min(bestLen, lookahead);
  }

  /** FLUSH_BLOCK_ONLY(). */
  private void flushBlockOnly(boolean last) {
    trees.flushBlock(
        level,
        blockStart >= 0 ? window : null,
        (int) Math.max(blockStart, 0),
        strstart - blockStart,
        last);
    blockStart = strstart;
    flushPending();
  }

  private int deflateFast(int flush) {
    for (; ; ) {
      if (lookahead < MIN_LOOKAHEAD) {
        fillWindow();
        if (lookahead < MIN_LOOKAHEAD && flush == NO_FLUSH) {
          return NEED_MORE;
        }
        if (lookahead == 0) {
          break;
        }
      }
      int hashHead = 0;
      if (lookahead >= MIN_MATCH) {
        hashHead = insertString(strstart);
      }
      if (hashHead != 0 && strstart - hashHead <= MAX_DIST) {
        matchLength = longestMatch(hashHead);
      }
      boolean bflush;
      if (matchLength >= MIN_MATCH) {
        bflush = trees.tally(strstart - matchStart, matchLength - MIN_MATCH);
        lookahead -= matchLength;
        if (matchLength <= maxLazyMatch && lookahead >= MIN_MATCH) {
          matchLength--;
          do {
            strstart++;
            insertString(strstart);
          } while (--matchLength != 0);
          strstart++;
        } else {
          strstart += matchLength;
          matchLength = 0;
          insH = window[strstart] & 0xff;
          insH = ((insH << HASH_SHIFT) ^ (window[strstart + 1] & 0xff)) & HASH_MASK;
        }
      } else {
        bflush = trees.tally(0, window[strstart] & 0xff);
        lookahead--;
        strstart++;
      }
      if (bflush) {
        flushBlockOnly(false);
        if (availOut == 0) {
          return NEED_MORE;
        }
      }
    }
    return endOfInput(flush);
  }

  private int deflateSlow(int flush) {
    for (; ; ) {
      if (lookahead < MIN_LOOKAHEAD) {
        fillWindow();
        if (lookahead < MIN_LOOKAHEAD && flush == NO_FLUSH) {
          return NEED_MORE;
        }
        if (lookahead == 0) {
          break;
        }
      }
      int hashHead = 0;
      if (lookahead >= MIN_MATCH) {
        hashHead = insertString(strstart);
      }
      prevLength = matchLength;
      prevMatch = matchStart;
      matchLength = MIN_MATCH - 1;
      if (hashHead != 0 && prevLength < maxLazyMatch && strstart - hashHead <= MAX_DIST) {
        matchLength = longestMatch(hashHead);
        if (matchLength == MIN_MATCH && strstart - matchStart > TOO_FAR) {
          matchLength = MIN_MATCH - 1;
        }
      }
      if (prevLength >= MIN_MATCH && matchLength <= prevLength) {
        int maxInsert = strstart + lookahead - MIN_MATCH;
        boolean bflush = trees.tally(strstart - 1 - prevMatch, prevLength - MIN_MATCH);
        lookahead -= prevLength - 1;
        prevLength -= 2;
        do {
          if (++strstart <= maxInsert) {
            insertString(strstart);
          }
        } while (--prevLength != 0);
        matchAvailable = false;
        matchLength = MIN_MATCH - 1;
        strstart++;
        if (bflush) {
          flushBlockOnly(false);
          if (availOut == 0) {
            return NEED_MORE;
          }
        }
      } else if (matchAvailable) {
        if (trees.tally(0, window[strstart - 1] & 0xff)) {
          flushBlockOnly(false);
        }
        strstart++;
        lookahead--;
        if (availOut == 0) {
          return NEED_MORE;
        }
      } else {
        matchAvailable = true;
        strstart++;
        lookahead--;
      }
    }
    if (matchAvailable) {
      trees.tally(0, window[strstart - 1] & 0xff);
      matchAvailable = false;
    }
    return endOfInput(flush);
  }

  /** The common end of deflate_fast and deflate_slow once the input is used up. */
  private int endOfInput(int flush) {
    insert = Math.min(strstart, MIN_MATCH - 1);
    if (flush == FINISH) {
      flushBlockOnly(true);
      return availOut == 0 ? FINISH_STARTED : FINISH_DONE;
    }
    if (trees.symNext != 0) {
      flushBlockOnly(false);
      if (availOut == 0) {
        return NEED_MORE;
      }
    }
    return BLOCK_DONE;
  }

  /**
   * deflate_stored() of zlib 1.2.13: level 0, stored blocks sized by the input and output space.
   */
  private int deflateStored(int flush) {
    int minBlock = Math.min(trees.pendingBuf.length - 5, W_SIZE);
    int len;
    int left;
    int have;
    boolean last = false;
    int used = availIn;
    do {
      len = MAX_STORED;
      have = (trees.biValid + 42) >> 3;
      if (availOut < have) {
        break;
      }
      have = availOut - have;
      left = (int) (strstart - blockStart);
      if (len > (long) left + availIn) {
        len = left + availIn;
      }
      if (len > have) {
        len = have;
      }
      if (len < minBlock
          && ((len == 0 && flush != FINISH) || flush == NO_FLUSH || len != left + availIn)) {
        break;
      }
      last = flush == FINISH && len == left + availIn;
      trees.storedBlock(null, 0, 0, last);
      byte[] p = trees.pendingBuf;
      p[trees.pending - 4] = (byte) len;
      p[trees.pending - 3] = (byte) (len >> 8);
      p[trees.pending - 2] = (byte) ~len;
      p[trees.pending - 1] = (byte) (~len >> 8);
      flushPending();
      if (left != 0) {
        if (left > len) {
          left = len;
        }
        System.arraycopy(window, (int) blockStart, nextOut, nextOutIndex, left);
        nextOutIndex += left;
        availOut -= left;
        blockStart += left;
        len -= left;
      }
      if (len != 0) {
        readBuf(nextOut, nextOutIndex, len);
        nextOutIndex += len;
        availOut -= len;
      }
    } while (!last);
    used -= availIn;
    if (used != 0) {
      if (used >= W_SIZE) {
        System.arraycopy(nextIn, nextInIndex - W_SIZE, window, 0, W_SIZE);
        strstart = W_SIZE;
        insert = strstart;
      } else {
        if (WINDOW_SIZE - strstart <= used) {
          strstart -= W_SIZE;
          System.arraycopy(window, W_SIZE, window, 0, strstart);
          if (insert > strstart) {
            insert = strstart;
          }
        }
        System.arraycopy(nextIn, nextInIndex - used, window, strstart, used);
        strstart += used;
        insert += Math.min(used, W_SIZE - insert);
      }
      blockStart = strstart;
    }
    if (last) {
      return FINISH_DONE;
    }
    if (flush != NO_FLUSH && flush != FINISH && availIn == 0 && strstart == blockStart) {
      return BLOCK_DONE;
    }
    have = WINDOW_SIZE - strstart;
    if (availIn > have && blockStart >= W_SIZE) {
      blockStart -= W_SIZE;
      strstart -= W_SIZE;
      System.arraycopy(window, W_SIZE, window, 0, strstart);
      have += W_SIZE;
      if (insert > strstart) {
        insert = strstart;
      }
    }
    if (have > availIn) {
      have = availIn;
    }
    if (have != 0) {
      readBuf(window, strstart, have);
      strstart += have;
      insert += Math.min(have, W_SIZE - insert);
    }
    have = (trees.biValid + 42) >> 3;
    have = Math.min(trees.pendingBuf.length - have, MAX_STORED);
    minBlock = Math.min(have, W_SIZE);
    left = (int) (strstart - blockStart);
    if (left >= minBlock
        || ((left != 0 || flush == FINISH) && flush != NO_FLUSH && availIn == 0 && left <= have)) {
      len = Math.min(left, have);
      last = flush == FINISH && availIn == 0 && len == left;
      trees.storedBlock(window, (int) blockStart, len, last);
      blockStart += len;
      flushPending();
    }
    return last ? FINISH_STARTED : NEED_MORE;
  }
}
