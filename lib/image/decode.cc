#include "image/decode.h"

// The C libraries report errors through longjmp, so each decoder runs in a function whose frames
// between setjmp and the library calls hold no objects with destructors; C++ errors are raised
// after they return.
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "core/error.h"

namespace deepseek::image {
namespace {

constexpr uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

// What a decoder returns: the pixels, or the library's message.
struct Decoded {
  RgbImage image;
  char error[JMSG_LENGTH_MAX > 256 ? JMSG_LENGTH_MAX : 256] = {};
};

bool TooLarge(uint64_t width, uint64_t height) {
  return width == 0 || height == 0 || width > static_cast<uint64_t>(kMaxImagePixels) ||
         width * height > static_cast<uint64_t>(kMaxImagePixels);
}

// ---- PNG ----------------------------------------------------------------------------------

struct PngSource {
  const uint8_t* data;
  size_t size, at;
  Decoded* out;
  jmp_buf jump;
};

void PngRead(png_structp png, png_bytep dst, size_t n) {
  auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
  if (n > src->size - src->at) png_error(png, "the file ends early (truncated)");
  std::memcpy(dst, src->data + src->at, n);
  src->at += n;
}

void PngError(png_structp png, png_const_charp message) {
  auto* src = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(src->out->error, sizeof(src->out->error), "%s", message);
  longjmp(src->jump, 1);
}

void PngWarning(png_structp, png_const_charp) {}

// Fills `source.out` or its error. Rows go straight into the image's buffer, which is sized
// before any row is read, so no allocation happens between setjmp and the reads.
void DecodePngInto(PngSource& source, std::vector<png_bytep>& rows) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &source, PngError, PngWarning);
  if (png == nullptr) {
    std::snprintf(source.out->error, sizeof(source.out->error), "out of memory");
    return;
  }
  png_infop info = png_create_info_struct(png);
  if (info == nullptr || setjmp(source.jump)) {
    png_destroy_read_struct(&png, info != nullptr ? &info : nullptr, nullptr);
    if (source.out->error[0] == 0) std::snprintf(source.out->error, sizeof(source.out->error), "out of memory");
    return;
  }
  png_set_read_fn(png, &source, PngRead);
  png_read_info(png, info);
  const png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
  if (TooLarge(width, height)) png_error(png, "the image exceeds Pillow's decompression-bomb limit of pixels");
  const int color = png_get_color_type(png, info);
  // Pillow's convert("RGB"): 16-bit samples keep their high byte, palettes and grey expand,
  // alpha (and a palette's transparency) is dropped rather than composited, gamma is ignored.
  png_set_strip_16(png);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) {
    png_set_expand_gray_1_2_4_to_8(png);
    png_set_gray_to_rgb(png);
  }
  // (libpng turns a palette's transparency into alpha while expanding it; that goes too.)
  if ((color & PNG_COLOR_MASK_ALPHA) || (color == PNG_COLOR_TYPE_PALETTE && png_get_valid(png, info, PNG_INFO_tRNS))) {
    png_set_strip_alpha(png);
  }
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  if (png_get_rowbytes(png, info) != static_cast<size_t>(width) * 3) png_error(png, "unexpected row layout after conversion");
  RgbImage& im = source.out->image;
  im.width = width;
  im.height = height;
  for (png_uint_32 y = 0; y < height; ++y) rows[y] = im.rgb.data() + static_cast<size_t>(y) * width * 3;
  png_read_image(png, rows.data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
}

// Reads the header first (its own pass) to size the buffers outside the longjmp region.
Decoded DecodePng(std::span<const uint8_t> bytes) {
  Decoded out;
  // The IHDR chunk follows the signature: width and height, big-endian, at bytes 16 and 20.
  if (bytes.size() < 24) {
    std::snprintf(out.error, sizeof(out.error), "the file ends early (truncated)");
    return out;
  }
  const auto be32 = [&](size_t at) {
    return static_cast<uint64_t>(bytes[at]) << 24 | static_cast<uint64_t>(bytes[at + 1]) << 16 |
           static_cast<uint64_t>(bytes[at + 2]) << 8 | bytes[at + 3];
  };
  const uint64_t width = be32(16), height = be32(20);
  if (TooLarge(width, height)) {
    std::snprintf(out.error, sizeof(out.error), "%llu x %llu pixels exceed Pillow's decompression-bomb limit of %lld",
                  static_cast<unsigned long long>(width), static_cast<unsigned long long>(height),
                  static_cast<long long>(kMaxImagePixels));
    return out;
  }
  // Deflate expands at most 1032-fold, so a file too short for its rows (a byte of filter type
  // each) is truncated: refused before a buffer for its claimed size is allocated.
  if ((width * 3 + 1) * height > 1032 * static_cast<uint64_t>(bytes.size())) {
    std::snprintf(out.error, sizeof(out.error), "the file ends early (truncated): too short for %llu x %llu pixels",
                  static_cast<unsigned long long>(width), static_cast<unsigned long long>(height));
    return out;
  }
  out.image.rgb.resize(static_cast<size_t>(width * height * 3));
  std::vector<png_bytep> rows(static_cast<size_t>(height));
  PngSource source{bytes.data(), bytes.size(), 0, &out, {}};
  DecodePngInto(source, rows);
  if (out.error[0] == 0 && (static_cast<uint64_t>(out.image.width) != width || static_cast<uint64_t>(out.image.height) != height)) {
    std::snprintf(out.error, sizeof(out.error), "the header's size changed while decoding");
  }
  return out;
}

// ---- JPEG ---------------------------------------------------------------------------------

struct JpegErrors {
  jpeg_error_mgr mgr;
  jmp_buf jump;
  Decoded* out;
};

void JpegErrorExit(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, errors->out->error);
  longjmp(errors->jump, 1);
}

// libjpeg reports a file that ends early as a warning (and pads it with an EOI marker); Pillow
// raises on a truncated file, so it is an error here too. Other warnings are ignored, as Pillow
// ignores them.
void JpegMessage(j_common_ptr cinfo, int level) {
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
    auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
    std::snprintf(errors->out->error, sizeof(errors->out->error), "the file ends early (truncated)");
    longjmp(errors->jump, 1);
  }
}

void InstallJpegErrors(jpeg_decompress_struct& cinfo, JpegErrors& errors, Decoded& out) {
  cinfo.err = jpeg_std_error(&errors.mgr);
  errors.mgr.error_exit = JpegErrorExit;
  errors.mgr.emit_message = JpegMessage;
  errors.out = &out;
}

void DecodeJpegInto(std::span<const uint8_t> bytes, Decoded& out, std::vector<uint8_t>& pixels, int& width, int& height) {
  jpeg_decompress_struct cinfo;
  JpegErrors errors;
  InstallJpegErrors(cinfo, errors, out);
  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    std::snprintf(out.error, sizeof(out.error), "CMYK JPEGs are not supported");
    jpeg_destroy_decompress(&cinfo);
    return;
  }
  if (TooLarge(cinfo.image_width, cinfo.image_height)) {
    std::snprintf(out.error, sizeof(out.error), "%u x %u pixels exceed Pillow's decompression-bomb limit of %lld",
                  cinfo.image_width, cinfo.image_height, static_cast<long long>(kMaxImagePixels));
    jpeg_destroy_decompress(&cinfo);
    return;
  }
  cinfo.out_color_space = JCS_RGB;  // grey replicated, YCbCr converted
  jpeg_start_decompress(&cinfo);
  width = static_cast<int>(cinfo.output_width);
  height = static_cast<int>(cinfo.output_height);
  // The buffer was sized by the caller from a first header pass: no allocation here.
  if (static_cast<size_t>(width) * static_cast<size_t>(height) * 3 != pixels.size()) {
    std::snprintf(out.error, sizeof(out.error), "unexpected output size");
    jpeg_destroy_decompress(&cinfo);
    return;
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = pixels.data() + static_cast<size_t>(cinfo.output_scanline) * static_cast<size_t>(width) * 3;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
}

// The image size of a JPEG's header, or an error.
bool JpegSize(std::span<const uint8_t> bytes, Decoded& out, uint64_t& width, uint64_t& height) {
  jpeg_decompress_struct cinfo;
  JpegErrors errors;
  InstallJpegErrors(cinfo, errors, out);
  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  width = cinfo.image_width;
  height = cinfo.image_height;
  jpeg_destroy_decompress(&cinfo);
  return true;
}

Decoded DecodeJpeg(std::span<const uint8_t> bytes) {
  Decoded out;
  uint64_t width = 0, height = 0;
  if (!JpegSize(bytes, out, width, height)) return out;
  if (TooLarge(width, height)) {
    std::snprintf(out.error, sizeof(out.error), "%llu x %llu pixels exceed Pillow's decompression-bomb limit of %lld",
                  static_cast<unsigned long long>(width), static_cast<unsigned long long>(height),
                  static_cast<long long>(kMaxImagePixels));
    return out;
  }
  std::vector<uint8_t> pixels(static_cast<size_t>(width * height * 3));
  int w = 0, h = 0;
  DecodeJpegInto(bytes, out, pixels, w, h);
  if (out.error[0] == 0) out.image = RgbImage{w, h, std::move(pixels)};
  return out;
}

}  // namespace

RgbImage DecodeImage(std::span<const uint8_t> bytes, const std::string& name) {
  Decoded decoded;
  if (bytes.size() >= sizeof(kPngSignature) && std::memcmp(bytes.data(), kPngSignature, sizeof(kPngSignature)) == 0) {
    decoded = DecodePng(bytes);
  } else if (bytes.size() >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff) {
    decoded = DecodeJpeg(bytes);
  } else {
    Fail(StatusCode::kInvalidArgument, name + ": not a PNG or JPEG image");
  }
  if (decoded.error[0] != 0) Fail(StatusCode::kInvalidArgument, name + ": " + decoded.error);
  return std::move(decoded.image);
}

RgbImage LoadImageFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail(StatusCode::kNotFound, "cannot open image '" + path + "'");
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return DecodeImage(bytes, path);
}

}  // namespace deepseek::image
