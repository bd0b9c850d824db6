// Sources in object storage (storage/source_files.h): a microscope folder served as
// "s3://bucket/..." by a store that counts what is fetched, so the tests see that readers list,
// detect, configure and decode through the source layer, and that big files are read by ranges.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <random>
#include <set>

#include "czi_writer.h"
#include "demo/demo_plate.h"
#include "render/image_writer.h"
#include "formats/reader.h"
#include "storage/s3/s3_store.h"
#include "storage/source_files.h"
#include "storage/store.h"
#include "test_util.h"
#include "workflow/inventory.h"

using namespace imx;
using namespace imx::test;
namespace fs = std::filesystem;

namespace {

// A filesystem store that counts the bytes and requests it serves.
class CountingStore final : public Store {
public:
    explicit CountingStore(const fs::path& root) : inner_(open_store(root.string())) {}
    std::string url() const override { return inner_->url(); }
    void put(const std::string& k, std::string_view v) override { inner_->put(k, v); }
    std::optional<std::string> get(const std::string& k) const override {
        auto v = inner_->get(k);
        if (v) bytes += v->size(), ++gets;
        return v;
    }
    std::optional<std::string> get_range(const std::string& k, uint64_t off, uint64_t len) const override {
        auto v = inner_->get_range(k, off, len);
        if (v) bytes += v->size(), ++gets;
        return v;
    }
    std::optional<uint64_t> size(const std::string& k) const override {
        ++heads;
        return inner_->size(k);
    }
    void remove(const std::string& k) override { inner_->remove(k); }
    uint64_t remove_prefix(const std::string& p) override { return inner_->remove_prefix(p); }
    std::vector<std::string> list(const std::string& p) const override {
        ++lists;
        return inner_->list(p);
    }
    mutable std::atomic<uint64_t> bytes{0}, gets{0}, lists{0}, heads{0};

private:
    std::unique_ptr<Store> inner_;
};

struct RemoteSource : ::testing::Test {
    fs::path dir;
    std::shared_ptr<CountingStore> store;
    void SetUp() override {
        dir = fs::temp_directory_path() / ("imx_source_files_" + std::to_string(::getpid()));
        fs::remove_all(dir);
        fs::create_directories(dir / "bucket");
        store = std::make_shared<CountingStore>(dir / "bucket");
        s3::use_store_for_bucket("unit-bucket", store);
    }
    void TearDown() override {
        source::clear_cache();
        fs::remove_all(dir);
    }
};

}  // namespace

TEST_F(RemoteSource, ListsFoldersAndFilesLikeTheFilesystem) {
    fs::create_directories(dir / "bucket/plate/Images/sub");
    test::write_bytes(dir / "bucket/plate/a.txt", "hello");
    test::write_bytes(dir / "bucket/plate/Images/b.tif", std::string(10, 'x'));
    test::write_bytes(dir / "bucket/plate/Images/sub/c.tif", std::string(3, 'y'));
    test::write_bytes(dir / "bucket/plate2/other.txt", "z");  // shares the leading characters only

    const fs::path root = "s3://unit-bucket/plate";
    auto children = source::list(root);
    ASSERT_EQ(children.size(), 2u);
    EXPECT_EQ(children[0].name, "Images");
    EXPECT_TRUE(children[0].is_dir);
    EXPECT_EQ(children[0].path.string(), "s3://unit-bucket/plate/Images");
    EXPECT_EQ(children[1].name, "a.txt");
    EXPECT_FALSE(children[1].is_dir);
    EXPECT_EQ(children[1].size, 5u);

    auto tree = source::list_tree(root);
    std::vector<std::string> names;
    for (auto& e : tree) names.push_back(e.path.lexically_relative(root).generic_string() + ":" + std::to_string(e.depth));
    EXPECT_EQ(names, (std::vector<std::string>{"Images:0", "Images/b.tif:1", "Images/sub:1", "Images/sub/c.tif:2",
                                               "a.txt:0"}));
    EXPECT_EQ(source::list_tree(root, 0).size(), 2u);  // depth 0: children only

    EXPECT_TRUE(source::is_dir(root));
    EXPECT_TRUE(source::is_dir(root / "Images"));
    EXPECT_FALSE(source::is_dir(root / "a.txt"));
    EXPECT_TRUE(source::is_file(root / "Images/sub/c.tif"));
    EXPECT_EQ(source::file_size(root / "Images/b.tif").value(), 10u);
    EXPECT_FALSE(source::is_file(root / "missing.tif"));
    EXPECT_EQ(source::read_all(root / "a.txt", 100), "hello");
    EXPECT_NE(test::error_of([&] { source::read_all(root / "a.txt", 3); }).find("more than the 3 bytes"),
              std::string::npos);
    // One listing answered all of that.
    EXPECT_EQ(store->lists.load(), 1u);

    // A prefix with nothing under it is not a folder; a missing object is named in the error.
    EXPECT_FALSE(source::is_dir("s3://unit-bucket/nothing-here"));
    std::string err = test::error_of([&] { source::open(root / "missing.tif"); });
    EXPECT_NE(err.find("s3://unit-bucket/plate/missing.tif"), std::string::npos) << err;
}

TEST_F(RemoteSource, BigObjectsAreReadByRangesSmallOnesWhole) {
    std::string big(24u << 20, '\0');
    std::mt19937 rng(7);
    for (auto& c : big) c = char(rng());
    test::write_bytes(dir / "bucket/big.bin", big);
    test::write_bytes(dir / "bucket/small.bin", big.substr(0, 5000));

    auto f = source::open("s3://unit-bucket/big.bin");
    ASSERT_EQ(f->size(), big.size());
    std::string got(100, '\0');
    f->read_at(10u << 20, got.data(), got.size());
    EXPECT_EQ(got, big.substr(10u << 20, 100));
    EXPECT_EQ(store->bytes.load(), 1u << 20);  // one 1 MiB block, not the 24 MiB object
    f->read_at((10u << 20) + 500, got.data(), got.size());
    EXPECT_EQ(store->bytes.load(), 1u << 20);  // the same block, cached
    // A read across a block boundary, and a big read that goes straight through.
    f->read_at((12u << 20) - 50, got.data(), got.size());
    EXPECT_EQ(got, big.substr((12u << 20) - 50, 100));
    std::string large(3u << 20, '\0');
    f->read_at(5, large.data(), large.size());
    EXPECT_EQ(large, big.substr(5, large.size()));
    EXPECT_LT(store->bytes.load(), 7u << 20);
    // Past the end: an error naming the object, no read.
    std::string err = test::error_of([&] { f->read_at(big.size() - 10, got.data(), got.size()); });
    EXPECT_NE(err.find("s3://unit-bucket/big.bin"), std::string::npos) << err;
    EXPECT_NE(err.find("past the end"), std::string::npos) << err;

    // An object bigger than a block but small enough to be fetched whole (3 MiB): reads far into it
    // come from the right place.
    test::write_bytes(dir / "bucket/mid.bin", big.substr(0, 3u << 20));
    auto m = source::open("s3://unit-bucket/mid.bin");
    std::string mid(1000, '\0');
    m->read_at((2u << 20) + 12345, mid.data(), mid.size());
    EXPECT_EQ(mid, big.substr((2u << 20) + 12345, 1000));
    m->read_at((1u << 20) - 10, mid.data(), mid.size());
    EXPECT_EQ(mid, big.substr((1u << 20) - 10, 1000));

    const uint64_t before = store->gets.load();
    auto s = source::open("s3://unit-bucket/small.bin");
    char a[10], b[10];
    s->read_at(0, a, 10);
    s->read_at(4990, b, 10);
    EXPECT_EQ(std::string(b, 10), big.substr(4990, 10));
    EXPECT_EQ(store->gets.load() - before, 1u);  // one GET for the whole small object
}

TEST_F(RemoteSource, CellVoyagerPlateConfiguresAndDecodesFromTheBucket) {
    DemoPlateSpec spec;
    spec.rows = 1;
    spec.cols = 2;
    spec.sites = 2;
    spec.zplanes = 2;
    spec.tpoints = 1;
    spec.width = 120;
    spec.height = 90;
    write_demo_plate(dir / "bucket/cv", spec);
    const fs::path local = dir / "bucket/cv", remote = "s3://unit-bucket/cv";

    // Every read by 4 KiB ranges: libtiff's client I/O across block boundaries.
    ::setenv("IMX_SOURCE_WHOLE_BYTES", "0", 1);
    ::setenv("IMX_SOURCE_BLOCK_BYTES", "4096", 1);
    const LayoutReader& layout = detect_layout(remote);
    EXPECT_EQ(layout.name(), "cellvoyager");
    ImageSet r = layout.configure(remote, {});
    ImageSet l = layout.configure(local, {});
    ASSERT_EQ(r.planes.size(), l.planes.size());
    ASSERT_FALSE(r.planes.empty());
    EXPECT_EQ(r.channels.size(), l.channels.size());
    for (size_t i = 0; i < r.planes.size(); ++i) {
        EXPECT_EQ(r.planes[i].file, l.planes[i].file);
        Plane pr, pl;
        read_plane(*source::open(resolve_inside(remote, r.planes[i].file)), {0, r.planes[i].page, 0}, pr);
        read_plane(*source::open(resolve_inside(local, l.planes[i].file)), {0, l.planes[i].page, 0}, pl);
        ASSERT_EQ(pr.data, pl.data) << r.planes[i].file;
    }
    ::unsetenv("IMX_SOURCE_WHOLE_BYTES");
    ::unsetenv("IMX_SOURCE_BLOCK_BYTES");
    // A run job holds no listing: it asks the size of each file it opens once (a HEAD), although
    // decoding a plane opens its file twice (format sniffing, then libtiff).
    source::clear_cache();
    s3::use_store_for_bucket("unit-bucket", store);
    const uint64_t heads_before = store->heads.load();
    std::set<std::string> files;
    for (auto& plane : r.planes) {
        Plane p;
        read_plane(*source::open(resolve_inside(remote, plane.file)), {0, plane.page, 0}, p);
        read_plane(*source::open(resolve_inside(remote, plane.file)), {0, plane.page, 0}, p);
        files.insert(plane.file);
    }
    EXPECT_EQ(store->heads.load() - heads_before, files.size());
    // '..' in a name is refused before any request is made.
    EXPECT_NE(test::error_of([&] { resolve_inside(remote, "../other/x.tif"); }).find("leaves the source folder"),
              std::string::npos);
}

TEST_F(RemoteSource, CziContainerDecodesWithoutFetchingTheWholeFile) {
    // 12 uncompressed 512x512 u16 planes (6 MiB) in a 6 MiB+ container: decoding one plane must
    // fetch its subblock and the directory, not the file.
    std::vector<CziBlock> blocks;
    const int32_t w = 512, h = 512;
    for (int z = 0; z < 12; ++z) {
        std::string px(size_t(w) * h * 2, '\0');
        for (size_t i = 0; i < px.size() / 2; ++i) {
            uint16_t v = uint16_t(z * 1000 + i % 997);
            std::memcpy(px.data() + 2 * i, &v, 2);
        }
        blocks.emplace_back(1, 0, czi_dims(w, h, 0, z, 0), px);
    }
    fs::create_directories(dir / "bucket/czi");
    test::write_bytes(dir / "bucket/czi/stack.czi", build_czi(blocks, czi_xml({"DAPI"})));
    const uint64_t file_size = fs::file_size(dir / "bucket/czi/stack.czi");
    // 64 KiB blocks for this modest file, as 1 MiB blocks are for a container of many GB.
    ::setenv("IMX_SOURCE_WHOLE_BYTES", "65536", 1);
    ::setenv("IMX_SOURCE_BLOCK_BYTES", "65536", 1);
    const fs::path remote = "s3://unit-bucket/czi";
    const LayoutReader& layout = detect_layout(remote);
    EXPECT_EQ(layout.name(), "czi");
    ImageSet set = layout.configure(remote, {});
    ASSERT_EQ(set.planes.size(), 12u);
    const uint64_t before = store->bytes.load();
    Plane p;
    read_plane(*source::open(resolve_inside(remote, set.planes[7].file)), {0, set.planes[7].page, 0}, p);
    ::unsetenv("IMX_SOURCE_WHOLE_BYTES");
    ::unsetenv("IMX_SOURCE_BLOCK_BYTES");
    const uint64_t fetched = store->bytes.load() - before;
    std::cout << "one plane of the CZI fetched " << fetched << " of " << file_size << " bytes\n";
    ASSERT_EQ(p.width, uint32_t(w));
    EXPECT_EQ(p.as<uint16_t>()[5], uint16_t(set.planes[7].zplane * 1000 + 5));
    EXPECT_LT(fetched, file_size / 3) << "fetched " << fetched << " of " << file_size << " bytes";
    Plane local;
    read_plane(*source::open(dir / "bucket/czi/stack.czi"), {0, set.planes[7].page, 0}, local);
    EXPECT_EQ(local.data, p.data);
}

// create's inventory reads headers: 64 KiB ranges of each object (a TIFF's first bytes and its IFD,
// a PNG's chunks before the pixels), not the whole plane files it would fetch for pixels.
TEST_F(RemoteSource, InventoryReadsHeadersNotWholePlaneFiles) {
    fs::create_directories(dir / "bucket/plate");
    std::mt19937 rng(3);
    Plane p;
    p.allocate(DType::u16, 600, 500);
    ImageSet set;
    set.plates.push_back({"P", 1, 1});
    set.channels.push_back({"C0", std::nullopt, std::nullopt});
    set.channels.push_back({"C1", std::nullopt, std::nullopt});
    for (int i = 0; i < 4; ++i) {
        for (size_t k = 0; k < p.pixel_count(); ++k) p.as<uint16_t>()[k] = uint16_t(rng());
        write_tiff(dir / "bucket/plate" / ("t" + std::to_string(i) + ".tif"), p);
        PlaneRecord r;
        r.plate = "P";
        r.site = i;
        r.file = "t" + std::to_string(i) + ".tif";
        set.planes.push_back(r);
    }
    std::vector<uint8_t> rgb(700u * 700 * 3);
    for (auto& v : rgb) v = uint8_t(rng());
    write_png_rgb(dir / "bucket/plate/c.png", 700, 700, rgb);
    PlaneRecord r;
    r.plate = "P";
    r.channel = 1;
    r.file = "c.png";
    set.planes.push_back(r);
    uint64_t total = 0;
    for (auto& e : fs::directory_iterator(dir / "bucket/plate")) total += e.file_size();
    const SourceInventory inv = take_inventory(set, "s3://unit-bucket/plate");
    const uint64_t fetched = store->bytes.load();
    std::cout << "the inventory fetched " << fetched << " of " << total << " bytes\n";
    EXPECT_LE(fetched, 4u * (128u << 10) + (256u << 10));
    EXPECT_GT(total, 4 * fetched);
    for (auto& [name, f] : inv.files) EXPECT_EQ(f.content, "complete") << name << ": " << f.detail;
    // The PNG's header, read from its first 256 KiB, says RGB: channel C1 became three.
    std::vector<std::string> names;
    for (auto& c : set.channels) names.push_back(c.name);
    EXPECT_EQ(names, (std::vector<std::string>{"C0", "C1 R", "C1 G", "C1 B"}));
}
