# aarch64-linux-gnu.cmake: CMake toolchain for the ARM64 cross build (scripts/cross_aarch64.sh):
# Debian's gcc-aarch64-linux-gnu, with the arm64 libraries installed multiarch
# (/usr/lib/aarch64-linux-gnu; libcpuinfo0 among them, which the unpacked libXNNPACK.so needs) or, for XNNPACK and pthreadpool (whose -dev packages cannot be
# installed beside the amd64 ones), unpacked into EMO_ARM64_EXTRA (a folder holding usr/lib/...).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_ASM_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu ${EMO_ARM64_EXTRA} /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# Run test executables under qemu (ctest uses this emulator for add_test commands). OpenBLAS's
# thread server spins for minutes at start-up under qemu-user: one BLAS thread there.
set(CMAKE_CROSSCOMPILING_EMULATOR env;OPENBLAS_NUM_THREADS=1
    LD_LIBRARY_PATH=${EMO_ARM64_EXTRA}/usr/lib/aarch64-linux-gnu;qemu-aarch64;-L;/usr/aarch64-linux-gnu)
