// Decoders read through the handle they are given, never through a path: the same bytes decode
// from an in-memory source::File whose name exists nowhere on disk.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "formats/builtin.h"
#include "formats/reader.h"
#include "render/image_writer.h"
#include "storage/source_files.h"
#include "test_util.h"

using namespace imx;
namespace fs = std::filesystem;
using imx::test::error_of;
using imx::test::fresh_dir;

namespace {

class MemoryFile final : public source::File {
public:
    MemoryFile(std::string name, std::string bytes) : bytes_(std::move(bytes)) {
        path_ = std::move(name);
        size_ = bytes_.size();
    }
    void read_at(uint64_t offset, void* out, size_t len) const override {
        ++reads;
        if (offset > bytes_.size() || len > bytes_.size() - offset)
            throw input_error(path_, "read past the end of the in-memory file");
        std::memcpy(out, bytes_.data() + offset, len);
    }
    mutable int reads = 0;

private:
    std::string bytes_;
};

Plane gradient(uint32_t w, uint32_t h) {
    Plane p;
    p.allocate(DType::u16, w, h);
    for (uint32_t i = 0; i < w * h; ++i) p.as<uint16_t>()[i] = uint16_t(i * 37 + 5);
    return p;
}

// The bytes of `plane` written as a file of that extension, the file removed again.
std::string encoded(const Plane& plane, const std::string& ext) {
    const fs::path dir = fresh_dir("handle");
    const fs::path file = dir / ("plane" + ext);
    write_image(file, plane);
    std::ifstream in(file, std::ios::binary);
    std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    fs::remove_all(dir);
    return bytes;
}

}  // namespace

TEST(DecoderHandle, TiffAndPngDecodeFromAnInMemoryFile) {
    const Plane want = gradient(13, 7);
    for (const std::string ext : {".tif", ".png"}) {
        const MemoryFile file("nowhere/plane" + ext, encoded(want, ext));
        ASSERT_FALSE(fs::exists(file.path()));
        const PixelDecoder& dec = decoder_for(file);
        EXPECT_EQ(dec.name(), ext == ".tif" ? "tiff" : "png");
        EXPECT_EQ(dec.page_count(file), 1u);
        const PageInfo info = dec.page_info(file, 0);
        EXPECT_EQ(info.width, 13u);
        EXPECT_EQ(info.height, 7u);
        EXPECT_EQ(dec.contents(file).runs.at(0).count, 1u);
        Plane got;
        read_plane(file, {0, 0, 0}, got);
        ASSERT_EQ(got.byte_size(), want.byte_size()) << ext;
        EXPECT_EQ(std::memcmp(got.data.data(), want.data.data(), want.byte_size()), 0) << ext;
        EXPECT_GT(file.reads, 0);
    }
}

TEST(DecoderHandle, TruncatedInMemoryFileIsRefusedNamingIt) {
    const std::string tiff = encoded(gradient(64, 64), ".tif");
    const MemoryFile cut("nowhere/cut.tif", tiff.substr(0, tiff.size() / 2));
    Plane got;
    const std::string e = error_of([&] { make_tiff_decoder()->read(cut, {0, 0, 0}, got); });
    EXPECT_EQ(e.rfind("nowhere/cut.tif", 0), 0u) << e;
}
