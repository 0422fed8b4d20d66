/*
 * A Java translation of trees.c from zlib 1.2.13, altered for Kiln: restricted to raw deflate with a 32 KiB
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

/**
 * The block coder of {@link ZlibDeflater}: a line-by-line port of {@code trees.c} of zlib 1.2.13
 * (Jean-loup Gailly and Mark Adler; zlib licence), so that it chooses the same block types and
 * builds the same Huffman trees, bit for bit. It collects the symbols of a block ({@link #tally}),
 * and writes blocks (stored, static or dynamic trees) to its pending buffer through a 16-bit bit
 * buffer, exactly as zlib does. Only what raw deflate with the default strategy needs is ported.
 */
final class ZlibTrees {
  static final int MAX_BITS = 15;
  static final int MAX_BL_BITS = 7;
  static final int LENGTH_CODES = 29;
  static final int LITERALS = 256;
  static final int L_CODES = LITERALS + 1 + LENGTH_CODES;
  static final int D_CODES = 30;
  static final int BL_CODES = 19;
  static final int HEAP_SIZE = 2 * L_CODES + 1;
  static final int END_BLOCK = 256;
  static final int REP_3_6 = 16;
  static final int REPZ_3_10 = 17;
  static final int REPZ_11_138 = 18;
  static final int BUF_SIZE = 16;

  private static final int STORED_BLOCK = 0;
  private static final int STATIC_TREES = 1;
  private static final int DYN_TREES = 2;

  private static final int[] EXTRA_LBITS = {
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0
  };
  private static final int[] EXTRA_DBITS = {
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13
  };
  private static final int[] EXTRA_BLBITS = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 7
  };
  private static final int[] BL_ORDER = {
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15
  };

  private static final int[] STATIC_LTREE_CODE = new int[L_CODES + 2];
  private static final int[] STATIC_LTREE_LEN = new int[L_CODES + 2];
  private static final int[] STATIC_DTREE_CODE = new int[D_CODES];
  private static final int[] STATIC_DTREE_LEN = new int[D_CODES];
  private static final int[] DIST_CODE = new int[512];
  private static final int[] LENGTH_CODE =
      new int[ZlibDeflater.MAX_MATCH - ZlibDeflater.MIN_MATCH + 1];
  private static final int[] BASE_LENGTH = new int[LENGTH_CODES];
  private static final int[] BASE_DIST = new int[D_CODES];

  static {
    // tr_static_init()
    int length = 0;
    int code;
    for (code = 0; code < LENGTH_CODES - 1; code++) {
      BASE_LENGTH[code] = length;
      for (int n = 0; n < (1 << EXTRA_LBITS[code]); n++) {
        LENGTH_CODE[length++] = code;
      }
    }
    LENGTH_CODE[length - 1] = code; // length 258 is code 285, not 284 + 5 bits
    int dist = 0;
    for (code = 0; code < 16; code++) {
      BASE_DIST[code] = dist;
      for (int n = 0; n < (1 << EXTRA_DBITS[code]); n++) {
        DIST_CODE[dist++] = code;
      }
    }
    dist >>= 7;
    for (; code < D_CODES; code++) {
      BASE_DIST[code] = dist << 7;
      for (int n = 0; n < (1 << (EXTRA_DBITS[code] - 7)); n++) {
        DIST_CODE[256 + dist++] = code;
      }
    }
    int[] blCount = new int[MAX_BITS + 1];
    int n = 0;
    while (n <= 143) {
      STATIC_LTREE_LEN[n++] = 8;
      blCount[8]++;
    }
    while (n <= 255) {
      STATIC_LTREE_LEN[n++] = 9;
      blCount[9]++;
    }
    while (n <= 279) {
      STATIC_LTREE_LEN[n++] = 7;
      blCount[7]++;
    }
    while (n <= 287) {
      STATIC_LTREE_LEN[n++] = 8;
      blCount[8]++;
    }
    genCodes(STATIC_LTREE_CODE, STATIC_LTREE_LEN, L_CODES + 1, blCount);
    for (n = 0; n < D_CODES; n++) {
      STATIC_DTREE_LEN[n] = 5;
      STATIC_DTREE_CODE[n] = biReverse(n, 5);
    }
  }

  /** A dynamic tree with its static description (zlib's tree_desc and static_tree_desc). */
  private static final class Tree {
    final int[] freq;
    final int[] code;
    final int[] dad;
    final int[] len;
    final int[] staticLen;
    final int[] extraBits;
    final int extraBase;
    final int elems;
    final int maxLength;
    int maxCode;

    Tree(int size, int[] staticLen, int[] extraBits, int extraBase, int elems, int maxLength) {
      freq = new int[size];
      code = new int[size];
      dad = new int[size];
      len = new int[size];
      this.staticLen = staticLen;
      this.extraBits = extraBits;
      this.extraBase = extraBase;
      this.elems = elems;
      this.maxLength = maxLength;
    }
  }

  private final Tree ltree =
      new Tree(HEAP_SIZE, STATIC_LTREE_LEN, EXTRA_LBITS, LITERALS + 1, L_CODES, MAX_BITS);
  private final Tree dtree =
      new Tree(2 * D_CODES + 1, STATIC_DTREE_LEN, EXTRA_DBITS, 0, D_CODES, MAX_BITS);
  private final Tree bltree =
      new Tree(2 * BL_CODES + 1, null, EXTRA_BLBITS, 0, BL_CODES, MAX_BL_BITS);

  private final int[] blCount = new int[MAX_BITS + 1];
  private final int[] heap = new int[2 * L_CODES + 1];
  private final int[] depth = new int[2 * L_CODES + 1];
  private int heapLen;
  private int heapMax;
  private long optLen;
  private long staticLen;

  /** Output not yet copied to the caller, from {@link #pendingOut}, {@link #pending} bytes long. */
  final byte[] pendingBuf;

  int pending;
  int pendingOut;
  private final byte[] symBuf;
  int symNext;
  private final int symEnd;
  int biBuf;
  int biValid;

  ZlibTrees(int litBufsize) {
    pendingBuf = new byte[litBufsize * 4];
    symBuf = new byte[litBufsize * 3];
    symEnd = (litBufsize - 1) * 3;
    init();
  }

  /** _tr_init(): a new stream. */
  void init() {
    biBuf = 0;
    biValid = 0;
    pending = 0;
    pendingOut = 0;
    initBlock();
  }

  private void initBlock() {
    for (int n = 0; n < L_CODES; n++) {
      ltree.freq[n] = 0;
    }
    for (int n = 0; n < D_CODES; n++) {
      dtree.freq[n] = 0;
    }
    for (int n = 0; n < BL_CODES; n++) {
      bltree.freq[n] = 0;
    }
    ltree.freq[END_BLOCK] = 1;
    optLen = 0;
    staticLen = 0;
    symNext = 0;
  }

  /** _tr_tally(): records a literal (dist 0) or a match; true when the block must be flushed. */
  boolean tally(int dist, int lc) {
    symBuf[symNext++] = (byte) dist;
    symBuf[symNext++] = (byte) (dist >>> 8);
    symBuf[symNext++] = (byte) lc;
    if (dist == 0) {
      ltree.freq[lc]++;
    } else {
      dist--;
      ltree.freq[LENGTH_CODE[lc] + LITERALS + 1]++;
      dtree.freq[dCode(dist)]++;
    }
    return symNext == symEnd;
  }

  private static int dCode(int dist) {
    return dist < 256 ? DIST_CODE[dist] : DIST_CODE[256 + (dist >>> 7)];
  }

  private void putByte(int b) {
    pendingBuf[pending++] = (byte) b;
  }

  private void putShort(int w) {
    putByte(w & 0xff);
    putByte((w >>> 8) & 0xff);
  }

  private void sendBits(int value, int length) {
    if (biValid > BUF_SIZE - length) {
      biBuf = (biBuf | (value << biValid)) & 0xffff;
      putShort(biBuf);
      biBuf = (value & 0xffff) >>> (BUF_SIZE - biValid);
      biValid += length - BUF_SIZE;
    } else {
      biBuf = (biBuf | (value << biValid)) & 0xffff;
      biValid += length;
    }
  }

  /** bi_flush(): writes out whole bytes of the bit buffer, leaving at most 7 bits. */
  void biFlush() {
    if (biValid == 16) {
      putShort(biBuf);
      biBuf = 0;
      biValid = 0;
    } else if (biValid >= 8) {
      putByte(biBuf);
      biBuf >>>= 8;
      biValid -= 8;
    }
  }

  private void biWindup() {
    if (biValid > 8) {
      putShort(biBuf);
    } else if (biValid > 0) {
      putByte(biBuf);
    }
    biBuf = 0;
    biValid = 0;
  }

  private static int biReverse(int code, int len) {
    int res = 0;
    do {
      res |= code & 1;
      code >>>= 1;
      res <<= 1;
    } while (--len > 0);
    return res >>> 1;
  }

  /** _tr_stored_block(): a stored block of {@code len} bytes of {@code buf} (none when null). */
  void storedBlock(byte[] buf, int off, int len, boolean last) {
    sendBits((STORED_BLOCK << 1) + (last ? 1 : 0), 3);
    biWindup();
    putShort(len & 0xffff);
    putShort(~len & 0xffff);
    if (len > 0) {
      System.arraycopy(buf, off, pendingBuf, pending, len);
    }
    pending += len;
  }

  /**
   * _tr_flush_block(): ends the block of the symbols tallied since the last one, as a stored block
   * of {@code buf[off, off+storedLen)} (null when the input is no longer in the window), static or
   * dynamic trees, whichever is shortest; {@code level} 0 forces a stored block.
   */
  void flushBlock(int level, byte[] buf, int off, long storedLen, boolean last) {
    long optLenb;
    long staticLenb;
    int maxBlindex = 0;
    if (level > 0) {
      buildTree(ltree);
      buildTree(dtree);
      maxBlindex = buildBlTree();
      optLenb = (optLen + 3 + 7) >>> 3;
      staticLenb = (staticLen + 3 + 7) >>> 3;
      if (staticLenb <= optLenb) {
        optLenb = staticLenb;
      }
    } else {
      optLenb = staticLenb = storedLen + 5;
    }
    if (storedLen + 4 <= optLenb && buf != null) {
      storedBlock(buf, off, (int) storedLen, last);
    } else if (staticLenb == optLenb) {
      sendBits((STATIC_TREES << 1) + (last ? 1 : 0), 3);
      compressBlock(STATIC_LTREE_CODE, STATIC_LTREE_LEN, STATIC_DTREE_CODE, STATIC_DTREE_LEN);
    } else {
      sendBits((DYN_TREES << 1) + (last ? 1 : 0), 3);
      sendAllTrees(ltree.maxCode + 1, dtree.maxCode + 1, maxBlindex + 1);
      compressBlock(ltree.code, ltree.len, dtree.code, dtree.len);
    }
    initBlock();
    if (last) {
      biWindup();
    }
  }

  private boolean smaller(int[] freq, int n, int m) {
    return freq[n] < freq[m] || (freq[n] == freq[m] && depth[n] <= depth[m]);
  }

  private void pqdownheap(int[] freq, int k) {
    int v = heap[k];
    int j = k << 1;
    while (j <= heapLen) {
      if (j < heapLen && smaller(freq, heap[j + 1], heap[j])) {
        j++;
      }
      if (smaller(freq, v, heap[j])) {
        break;
      }
      heap[k] = heap[j];
      k = j;
      j <<= 1;
    }
    heap[k] = v;
  }

  private void genBitlen(Tree t) {
    int[] freq = t.freq;
    int[] len = t.len;
    int maxCode = t.maxCode;
    int maxLength = t.maxLength;
    int overflow = 0;
    for (int bits = 0; bits <= MAX_BITS; bits++) {
      blCount[bits] = 0;
    }
    len[heap[heapMax]] = 0;
    int h;
    for (h = heapMax + 1; h < HEAP_SIZE; h++) {
      int n = heap[h];
      int bits = len[t.dad[n]] + 1;
      if (bits > maxLength) {
        bits = maxLength;
        overflow++;
      }
      len[n] = bits;
      if (n > maxCode) {
        continue;
      }
      blCount[bits]++;
      int xbits = n >= t.extraBase ? t.extraBits[n - t.extraBase] : 0;
      int f = freq[n];
      optLen += (long) f * (bits + xbits);
      if (t.staticLen != null) {
        staticLen += (long) f * (t.staticLen[n] + xbits);
      }
    }
    if (overflow == 0) {
      return;
    }
    do {
      int bits = maxLength - 1;
      while (blCount[bits] == 0) {
        bits--;
      }
      blCount[bits]--;
      blCount[bits + 1] += 2;
      blCount[maxLength]--;
      overflow -= 2;
    } while (overflow > 0);
    for (int bits = maxLength; bits != 0; bits--) {
      int n = blCount[bits];
      while (n != 0) {
        int m = heap[--h];
        if (m > maxCode) {
          continue;
        }
        if (len[m] != bits) {
          optLen += ((long) bits - len[m]) * freq[m];
          len[m] = bits;
        }
        n--;
      }
    }
  }

  private static void genCodes(int[] code, int[] len, int maxCode, int[] blCount) {
    int[] nextCode = new int[MAX_BITS + 1];
    int c = 0;
    for (int bits = 1; bits <= MAX_BITS; bits++) {
      c = (c + blCount[bits - 1]) << 1;
      nextCode[bits] = c & 0xffff;
    }
    for (int n = 0; n <= maxCode; n++) {
      int l = len[n];
      if (l == 0) {
        continue;
      }
      code[n] = biReverse(nextCode[l]++, l);
    }
  }

  private void buildTree(Tree t) {
    int[] freq = t.freq;
    int elems = t.elems;
    int maxCode = -1;
    heapLen = 0;
    heapMax = HEAP_SIZE;
    for (int n = 0; n < elems; n++) {
      if (freq[n] != 0) {
        heap[++heapLen] = maxCode = n;
        depth[n] = 0;
      } else {
        t.len[n] = 0;
      }
    }
    while (heapLen < 2) {
      int node = heap[++heapLen] = maxCode < 2 ? ++maxCode : 0;
      freq[node] = 1;
      depth[node] = 0;
      optLen--;
      if (t.staticLen != null) {
        staticLen -= t.staticLen[node];
      }
    }
    t.maxCode = maxCode;
    for (int n = heapLen / 2; n >= 1; n--) {
      pqdownheap(freq, n);
    }
    int node = elems;
    do {
      int n = heap[1];
      heap[1] = heap[heapLen--];
      pqdownheap(freq, 1);
      int m = heap[1];
      heap[--heapMax] = n;
      heap[--heapMax] = m;
      freq[node] = freq[n] + freq[m];
      depth[node] = (depth[n] >= depth[m] ? depth[n] : depth[m]) + 1;
      t.dad[n] = t.dad[m] = node;
      heap[1] = node++;
      pqdownheap(freq, 1);
    } while (heapLen >= 2);
    heap[--heapMax] = heap[1];
    genBitlen(t);
    genCodes(t.code, t.len, maxCode, blCount);
  }

  private void scanTree(Tree t, int maxCode) {
    int[] len = t.len;
    int prevlen = -1;
    int nextlen = len[0];
    int count = 0;
    int maxCount = 7;
    int minCount = 4;
    if (nextlen == 0) {
      maxCount = 138;
      minCount = 3;
    }
    len[maxCode + 1] = 0xffff; // guard
    for (int n = 0; n <= maxCode; n++) {
      int curlen = nextlen;
      nextlen = len[n + 1];
      if (++count < maxCount && curlen == nextlen) {
        continue;
      } else if (count < minCount) {
        bltree.freq[curlen] += count;
      } else if (curlen != 0) {
        if (curlen != prevlen) {
          bltree.freq[curlen]++;
        }
        bltree.freq[REP_3_6]++;
      } else if (count <= 10) {
        bltree.freq[REPZ_3_10]++;
      } else {
        bltree.freq[REPZ_11_138]++;
      }
      count = 0;
      prevlen = curlen;
      if (nextlen == 0) {
        maxCount = 138;
        minCount = 3;
      } else if (curlen == nextlen) {
        maxCount = 6;
        minCount = 3;
      } else {
        maxCount = 7;
        minCount = 4;
      }
    }
  }

  private void sendBlCode(int c) {
    sendBits(bltree.code[c], bltree.len[c]);
  }

  private void sendTree(Tree t, int maxCode) {
    int[] len = t.len;
    int prevlen = -1;
    int nextlen = len[0];
    int count = 0;
    int maxCount = 7;
    int minCount = 4;
    if (nextlen == 0) {
      maxCount = 138;
      minCount = 3;
    }
    for (int n = 0; n <= maxCode; n++) {
      int curlen = nextlen;
      nextlen = len[n + 1];
      if (++count < maxCount && curlen == nextlen) {
        continue;
      } else if (count < minCount) {
        do {
          sendBlCode(curlen);
        } while (--count != 0);
      } else if (curlen != 0) {
        if (curlen != prevlen) {
          sendBlCode(curlen);
          count--;
        }
        sendBlCode(REP_3_6);
        sendBits(count - 3, 2);
      } else if (count <= 10) {
        sendBlCode(REPZ_3_10);
        sendBits(count - 3, 3);
      } else {
        sendBlCode(REPZ_11_138);
        sendBits(count - 11, 7);
      }
      count = 0;
      prevlen = curlen;
      if (nextlen == 0) {
        maxCount = 138;
        minCount = 3;
      } else if (curlen == nextlen) {
        maxCount = 6;
        minCount = 3;
      } else {
        maxCount = 7;
        minCount = 4;
      }
    }
  }

  private int buildBlTree() {
    scanTree(ltree, ltree.maxCode);
    scanTree(dtree, dtree.maxCode);
    buildTree(bltree);
    int maxBlindex;
    for (maxBlindex = BL_CODES - 1; maxBlindex >= 3; maxBlindex--) {
      if (bltree.len[BL_ORDER[maxBlindex]] != 0) {
        break;
      }
    }
    optLen += 3 * ((long) maxBlindex + 1) + 5 + 5 + 4;
    return maxBlindex;
  }

  private void sendAllTrees(int lcodes, int dcodes, int blcodes) {
    sendBits(lcodes - 257, 5);
    sendBits(dcodes - 1, 5);
    sendBits(blcodes - 4, 4);
    for (int rank = 0; rank < blcodes; rank++) {
      sendBits(bltree.len[BL_ORDER[rank]], 3);
    }
    sendTree(ltree, lcodes - 1);
    sendTree(dtree, dcodes - 1);
  }

  private void compressBlock(int[] lcode, int[] llen, int[] dcode, int[] dlen) {
    int sx = 0;
    if (symNext != 0) {
      do {
        int dist = symBuf[sx++] & 0xff;
        dist += (symBuf[sx++] & 0xff) << 8;
        int lc = symBuf[sx++] & 0xff;
        if (dist == 0) {
          sendBits(lcode[lc], llen[lc]);
        } else {
          int code = LENGTH_CODE[lc];
          sendBits(lcode[code + LITERALS + 1], llen[code + LITERALS + 1]);
          int extra = EXTRA_LBITS[code];
          if (extra != 0) {
            sendBits(lc - BASE_LENGTH[code], extra);
          }
          dist--;
          code = dCode(dist);
          sendBits(dcode[code], dlen[code]);
          extra = EXTRA_DBITS[code];
          if (extra != 0) {
            sendBits(dist - BASE_DIST[code], extra);
          }
        }
      } while (sx < symNext);
    }
    sendBits(lcode[END_BLOCK], llen[END_BLOCK]);
  }
}
