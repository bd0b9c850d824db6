// Hostile input that is not specific to one reader: TIFF directory loops, absurdly nested or
// entity-laden XML, and file names that are not UTF-8.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "core/fileutil.h"
#include "formats/reader.h"
#include "test_util.h"
#include "storage/source_files.h"

using namespace imx;
namespace fs = std::filesystem;

namespace {

using imx::test::fresh_dir;

void put16(std::string& s, uint16_t v) { s.push_back(char(v & 0xFF)), s.push_back(char(v >> 8)); }
void put32(std::string& s, uint32_t v) {
    for (int i = 0; i < 4; ++i) s.push_back(char((v >> (8 * i)) & 0xFF));
}
// One little-endian IFD of a 4x2 8-bit strip image at `at`, whose next-IFD pointer is `next`.
std::string ifd(uint32_t at, uint32_t pixels_at, uint32_t next) {
    std::string s;
    const uint16_t n = 8;
    put16(s, n);
    auto entry = [&](uint16_t tag, uint16_t type, uint32_t value) {
        put16(s, tag), put16(s, type), put32(s, 1), put32(s, value);
    };
    entry(256, 4, 4);          // ImageWidth
    entry(257, 4, 2);          // ImageLength
    entry(258, 3, 8);          // BitsPerSample
    entry(259, 3, 1);          // Compression: none
    entry(262, 3, 1);          // Photometric: min-is-black
    entry(273, 4, pixels_at);  // StripOffsets
    entry(278, 4, 2);          // RowsPerStrip
    entry(279, 4, 8);          // StripByteCounts
    put32(s, next);
    (void)at;
    return s;
}

// Header, 8 pixels at 8, IFDs at 16 and (optionally) 128; `next` pointers as given.
std::string looping_tiff(uint32_t first_next, uint32_t second_next) {
    std::string s = "II";
    put16(s, 42);
    put32(s, 16);
    s += std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    s += ifd(16, 8, first_next);
    s.resize(128, '\0');
    s += ifd(128, 8, second_next);
    return s;
}

}  // namespace

TEST(HostileTiff, DirectoryPointingAtItselfEndsTheChain) {
    fs::path d = fresh_dir("ifd_loop");
    test::write_bytes(d / "self.tif", looping_tiff(16, 0));
    test::write_bytes(d / "pair.tif", looping_tiff(128, 16));
    for (const char* name : {"self.tif", "pair.tif"}) {
        fs::path f = d / name;
        uint32_t pages = 0;
        // Either the loop is cut (finite page count) or refused with an Error naming the file.
        std::string err = test::error_of([&] { pages = decoder_for(*source::open(f)).page_count(*source::open(f)); });
        if (err == "no exception") {
            EXPECT_GE(pages, 1u) << name;
            EXPECT_LE(pages, 2u) << name;
            Plane p;
            decoder_for(*source::open(f)).read(*source::open(f), {0, 0, 0}, p);
            EXPECT_EQ(p.width, 4u);
            EXPECT_EQ(p.as<uint8_t>()[7], 8);
        } else {
            EXPECT_NE(err.find(name), std::string::npos) << err;
        }
    }
    fs::remove_all(d);
}

TEST(HostileXml, DeepNestingAndEntityBombsAreRefusedCheaply) {
    fs::path d = fresh_dir("xml_bombs");
    const LayoutReader* cv = find_layout_reader("cellvoyager");
    ASSERT_NE(cv, nullptr);
    // 200,000 nested elements: must not overflow the stack in the parser or in our tree walks.
    std::string deep = "<?xml version=\"1.0\"?><bts:MeasurementData xmlns:bts=\"http://www.yokogawa.co.jp/BTS/BTSSchema/1.0\">";
    for (int i = 0; i < 200000; ++i) deep += "<a>";
    for (int i = 0; i < 200000; ++i) deep += "</a>";
    deep += "</bts:MeasurementData>";
    test::write_bytes(d / "MeasurementData.mlf", deep);
    std::string err = test::error_of([&] { cv->configure(d, {}); });
    EXPECT_NE(err.find("MeasurementData.mlf"), std::string::npos) << err;
    // Billion laughs: entities are never expanded, so no record (and no memory) comes of it.
    std::string laughs = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">";
    for (int i = 1; i < 10; ++i) {
        laughs += "<!ENTITY lol" + std::to_string(i) + " \"";
        for (int k = 0; k < 10; ++k) laughs += "&lol" + (i == 1 ? std::string() : std::to_string(i - 1)) + ";";
        laughs += "\">";
    }
    laughs += "]><bts:MeasurementData xmlns:bts=\"http://www.yokogawa.co.jp/BTS/BTSSchema/1.0\">"
              "<bts:MeasurementRecord bts:Type=\"IMG\" bts:Row=\"1\" bts:Column=\"1\" bts:FieldIndex=\"1\" "
              "bts:ZIndex=\"1\" bts:TimePoint=\"1\" bts:TimelineIndex=\"1\" bts:ActionIndex=\"1\" bts:Ch=\"1\">&lol9;"
              "</bts:MeasurementRecord></bts:MeasurementData>";
    test::write_bytes(d / "MeasurementData.mlf", laughs);
    ImageSet set;
    err = test::error_of([&] { set = cv->configure(d, {}); });
    EXPECT_EQ(err.find("lollollol"), std::string::npos) << err;
    if (err == "no exception") {
        // The entity reference stays as it is written: the record names a file "&lol9;".
        ASSERT_EQ(set.planes.size(), 1u);
        EXPECT_LT(set.planes[0].file.size(), 16u) << set.planes[0].file.substr(0, 40);
    }
    fs::remove_all(d);
}

TEST(Names, Utf8CheckAndLosslessJobFileNames) {
    EXPECT_TRUE(valid_utf8("plain.tif"));
    EXPECT_TRUE(valid_utf8("\xC3\xA9t\xC3\xA9.tif"));           // été
    EXPECT_FALSE(valid_utf8("pl\xFFte"));
    EXPECT_FALSE(valid_utf8("\xC0\xAF"));                        // overlong '/'
    EXPECT_FALSE(valid_utf8("\xED\xA0\x80"));                    // a surrogate
    EXPECT_FALSE(valid_utf8("\xE2\x82"));                        // cut short
    EXPECT_EQ(printable_utf8("pl\xFFte"), "pl\xEF\xBF\xBDte");
    for (std::string name : {std::string("a/b.tif"), std::string("pl\xFFte/x\xFE\x80.tif"), std::string()}) {
        nlohmann::json j = name_to_json(name);
        EXPECT_NO_THROW((void)j.dump()) << name;  // always valid JSON
        EXPECT_EQ(name_from_json(nlohmann::json::parse(j.dump())), name);
    }
    EXPECT_NE(test::error_of([] { name_from_json(nlohmann::json{{"hex", "abc"}}); }).find("corrupt file name"),
              std::string::npos);
    EXPECT_NE(test::error_of([] { name_from_json(nlohmann::json{{"hex", "zz"}}); }).find("corrupt file name"),
              std::string::npos);
}

// resolve_inside refuses names and symlinks (of the file or of a folder on the way) that lead out
// of the source folder, also when the folder's resolution is remembered from an earlier file.
TEST(Names, ResolveInsideRefusesEveryWayOut) {
    const fs::path d = fresh_dir("resolve_inside");
    const fs::path src = d / "src";
    fs::create_directories(src / "real");
    fs::create_directories(d / "outside");
    for (const fs::path& f : {src / "a.tif", src / "real" / "b.tif", d / "outside" / "x.tif"}) write_file_atomic(f, "x");
    fs::create_symlink(d / "outside" / "x.tif", src / "link.tif");   // a file leading out
    fs::create_symlink(d / "outside", src / "sub");                   // a folder leading out
    fs::create_symlink(src / "real", src / "inner");                  // a folder staying inside
    fs::create_symlink("real/b.tif", src / "near.tif");               // a file staying inside
    auto refused = [&](const std::string& name) {
        try {
            resolve_inside(src, name);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    for (int round = 0; round < 2; ++round) {  // the second round answers from what the first resolved
        EXPECT_EQ(resolve_inside(src, "a.tif"), src / "a.tif");
        EXPECT_EQ(resolve_inside(src, "near.tif"), src / "near.tif");
        EXPECT_EQ(resolve_inside(src, "inner/b.tif"), src / "inner" / "b.tif");
        EXPECT_NE(refused("link.tif").find("resolves outside the source folder"), std::string::npos);
        EXPECT_EQ(resolve_inside(src, "real/b.tif"), src / "real" / "b.tif");
        EXPECT_NE(refused("sub/x.tif").find("resolves outside the source folder"), std::string::npos);
        EXPECT_NE(refused("../outside/x.tif"), "");
        EXPECT_NE(refused("real/../../outside/x.tif"), "");
        EXPECT_NE(refused((d / "outside" / "x.tif").string()), "");
    }
    // Another source folder whose files sit in a folder of the same name: not mixed up.
    EXPECT_NE(refused("sub/x.tif").find("resolves outside"), std::string::npos);
    EXPECT_EQ(resolve_inside(d / "outside", "x.tif"), d / "outside" / "x.tif");
}
