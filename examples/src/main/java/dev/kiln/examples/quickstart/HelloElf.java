package dev.kiln.examples.quickstart;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Writes, byte by byte, a static Linux x86-64 executable of a few hundred bytes that prints one
 * file to standard output, so the quickstart image runs on any amd64 Docker host without a shell, a
 * libc or anything installed: no compiler, no base image. The bytes depend only on the path, so the
 * image is the same on every machine.
 *
 * <p>The program, in the assembler syntax of {@code as -msyntax=intel}:
 *
 * <pre>
 *   fd = open(PATH, O_RDONLY)              ; any error below: write(2, MESSAGE) and exit(1)
 *   while ((n = read(fd, buf, 4096)) &gt; 0)  ; buf on the stack
 *     write(1, buf, n)
 *   exit(0)
 * </pre>
 *
 * <p>The file is an ELF header, one PT_LOAD program header mapping the whole file read+execute at
 * 0x400000, the code, then MESSAGE ("hello: cannot print PATH\n") and PATH with its terminating
 * NUL. Only x86-64 for now; an aarch64 variant needs its own code section under the same headers
 * ({@code e_machine} 183).
 */
final class HelloElf {
  private static final long BASE = 0x400000;
  private static final int EHDR = 64;
  private static final int PHDR = 56;

  // Offsets in CODE that depend on where the strings land (see x8664).
  private static final int PATH_DISP =
      0x03; // lea rdi, [rip + PATH]: disp32 at 0x03, next instruction at 0x07
  private static final int MSG_DISP =
      0x50; // lea rsi, [rip + MESSAGE]: disp32 at 0x50, next instruction at 0x54
  private static final int MSG_LEN = 0x55; // mov edx, len(MESSAGE): imm32 at 0x55

  private static final int[] CODE = {
    0x48, 0x8d, 0x3d, 0, 0, 0, 0, //         00 lea rdi, [rip + PATH]
    0x31, 0xf6, //                           07 xor esi, esi            ; O_RDONLY
    0xb8, 0x02, 0x00, 0x00, 0x00, //         09 mov eax, 2              ; open
    0x0f, 0x05, //                           0e syscall
    0x85, 0xc0, //                           10 test eax, eax
    0x78, 0x34, //                           12 js fail (0x48)
    0x89, 0xc3, //                           14 mov ebx, eax            ; fd
    0x48, 0x81, 0xec, 0x00, 0x10, 0, 0, //   16 sub rsp, 4096           ; buf
    0x89, 0xdf, //                    again: 1d mov edi, ebx
    0x48, 0x89, 0xe6, //                     1f mov rsi, rsp
    0xba, 0x00, 0x10, 0x00, 0x00, //         22 mov edx, 4096
    0x31, 0xc0, //                           27 xor eax, eax            ; read
    0x0f, 0x05, //                           29 syscall
    0x48, 0x85, 0xc0, //                     2b test rax, rax
    0x78, 0x18, //                           2e js fail (0x48)
    0x74, 0x35, //                           30 jz ok (0x67)
    0x89, 0xc2, //                           32 mov edx, eax
    0xbf, 0x01, 0x00, 0x00, 0x00, //         34 mov edi, 1              ; stdout
    0x48, 0x89, 0xe6, //                     39 mov rsi, rsp
    0xb8, 0x01, 0x00, 0x00, 0x00, //         3c mov eax, 1              ; write
    0x0f, 0x05, //                           41 syscall
    0x48, 0x85, 0xc0, //                     43 test rax, rax
    0x79, 0xd5, //                           46 jns again (0x1d)
    0xbf, 0x02, 0x00, 0x00, 0x00, //   fail: 48 mov edi, 2              ; stderr
    0x48, 0x8d, 0x35, 0, 0, 0, 0, //         4d lea rsi, [rip + MESSAGE]
    0xba, 0, 0, 0, 0, //                     54 mov edx, len(MESSAGE)
    0xb8, 0x01, 0x00, 0x00, 0x00, //         59 mov eax, 1              ; write
    0x0f, 0x05, //                           5e syscall
    0xbf, 0x01, 0x00, 0x00, 0x00, //         60 mov edi, 1              ; exit status 1
    0xeb, 0x02, //                           65 jmp out (0x69)
    0x31, 0xff, //                       ok: 67 xor edi, edi            ; exit status 0
    0xb8, 0x3c, 0x00, 0x00, 0x00, //    out: 69 mov eax, 60             ; exit
    0x0f, 0x05, //                           6e syscall
  };

  private HelloElf() {}

  /** The executable that prints the file at {@code path} (an absolute path inside the image). */
  static byte[] x8664(String path) {
    if (!path.startsWith("/") || path.indexOf('\0') >= 0) {
      throw new IllegalArgumentException(
          "expected an absolute path without NUL, found '" + path + "'");
    }
    byte[] message = ("hello: cannot print " + path + "\n").getBytes(StandardCharsets.UTF_8);
    byte[] pathz = (path + "\0").getBytes(StandardCharsets.UTF_8);
    int codeOffset = EHDR + PHDR;
    int messageAt = CODE.length; // relative to the code
    int pathAt = messageAt + message.length;
    int size = codeOffset + pathAt + pathz.length;

    ByteBuffer code = ByteBuffer.allocate(CODE.length).order(ByteOrder.LITTLE_ENDIAN);
    for (int b : CODE) {
      code.put((byte) b);
    }
    code.putInt(PATH_DISP, pathAt - (PATH_DISP + 4));
    code.putInt(MSG_DISP, messageAt - (MSG_DISP + 4));
    code.putInt(MSG_LEN, message.length);

    ByteBuffer h = ByteBuffer.allocate(codeOffset).order(ByteOrder.LITTLE_ENDIAN);
    h.put(
        new byte[] {
          0x7f, 'E', 'L', 'F', 2 /* 64-bit */, 1 /* little-endian */, 1 /* version */, 0 /* SysV */
        });
    h.put(new byte[8]);
    h.putShort((short) 2); // e_type: ET_EXEC
    h.putShort((short) 62); // e_machine: EM_X86_64
    h.putInt(1); // e_version
    h.putLong(BASE + codeOffset); // e_entry: the first instruction
    h.putLong(EHDR); // e_phoff
    h.putLong(0); // e_shoff: no section headers
    h.putInt(0); // e_flags
    h.putShort((short) EHDR); // e_ehsize
    h.putShort((short) PHDR); // e_phentsize
    h.putShort((short) 1); // e_phnum
    h.putShort((short) 64); // e_shentsize
    h.putShort((short) 0); // e_shnum
    h.putShort((short) 0); // e_shstrndx
    h.putInt(1); // p_type: PT_LOAD
    h.putInt(5); // p_flags: read + execute
    h.putLong(0); // p_offset: the whole file ...
    h.putLong(BASE); // p_vaddr
    h.putLong(BASE); // p_paddr
    h.putLong(size); // p_filesz
    h.putLong(size); // p_memsz
    h.putLong(0x1000); // p_align

    ByteArrayOutputStream out = new ByteArrayOutputStream(size);
    out.writeBytes(h.array());
    out.writeBytes(code.array());
    out.writeBytes(message);
    out.writeBytes(pathz);
    return out.toByteArray();
  }
}
