#pragma once
// IDX: the array file format MNIST ships in (http://yann.lecun.com/exdb/mnist/, bottom of the page).
//
//   bytes 0-1  zero
//   byte  2    element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
//   byte  3    number of dimensions
//   then       one big-endian uint32 per dimension, then the elements, big-endian, row-major
//
// Files are read raw or gzip-compressed (the .gz files most mirrors serve); zlib tells the two apart by
// the gzip magic 1f 8b. Anything that does not add up throws DataError naming the file and the fault.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace vkdrop {

// The element type codes of byte 2 of the header.
enum IdxType : uint8_t {
  k_idx_u8 = 0x08,
  k_idx_i8 = 0x09,
  k_idx_i16 = 0x0B,
  k_idx_i32 = 0x0C,
  k_idx_f32 = 0x0D,
  k_idx_f64 = 0x0E,
};

// One IDX file in memory.
struct IdxArray {
  std::vector<uint32_t> dims;  // (ndims), outermost first: (60000, 28, 28) for MNIST training images
  uint8_t type_code = 0;       // one of IdxType
  // (product(dims) * idx_element_size(type_code)) bytes, row-major, already converted to host byte
  // order, so for k_idx_f32 it can be memcpy'd into a float array as it is.
  std::vector<uint8_t> bytes;

  // Number of elements: the product of dims.
  size_t count() const;
};

// Bytes per element of a type code, or 0 for a code that is not an IDX type.
size_t idx_element_size(uint8_t type_code);

// "uint8", "int8", "int16", "int32", "float32", "float64", or "unknown type 0x.." for messages.
std::string idx_type_name(uint8_t type_code);

// The most data one IDX file may hold, 1 GiB: twenty times MNIST's training images (47 MB), twice EMNIST's
// largest file (ByClass training images, 547 MB). The header's claim is checked against it before anything is
// allocated, so a damaged header or a decompression bomb (a few MB of gzip that inflate to many GB) is refused
// without being read. A larger data set passes its own `max_bytes`.
constexpr uint64_t k_idx_max_bytes = uint64_t{1} << 30;

// Reads a raw or gzipped IDX file. Throws DataError when the file is missing (the message says to run
// `./vkdrop.sh data`), unreadable, has a bad header, claims more than `max_bytes` of data, or holds fewer or
// more bytes than its header says. Memory in use grows with the bytes actually read, never with the claim.
IdxArray read_idx(const std::filesystem::path& path, uint64_t max_bytes = k_idx_max_bytes);

// read_idx, then also requires type uint8 and exactly expected_ndims dimensions: what the MNIST image
// (3) and label (1) files hold. The result's bytes are the uint8 elements.
IdxArray read_idx_u8(const std::filesystem::path& path, size_t expected_ndims);

}  // namespace vkdrop
