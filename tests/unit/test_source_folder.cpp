// The folder handle readers get (storage/source_folder.h): names relative to it, and the one place
// that refuses names leading out of the source folder.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

#include "demo/demo_plate.h"
#include "formats/reader.h"
#include "storage/source_folder.h"
#include "test_util.h"

using namespace imx;
namespace fs = std::filesystem;
using test::error_of;

namespace {

// base/outside.txt beside base/root, which holds plate/a.txt, a link to a file inside and links
// that lead out.
struct Tree {
    fs::path base = test::fresh_dir("folder");
    fs::path root = base / "root";
    Tree() {
        fs::create_directories(root / "plate" / "sub");
        test::write_bytes(base / "outside.txt", "secret");
        test::write_bytes(root / "plate" / "a.txt", "inside");
        fs::create_symlink(root / "plate" / "a.txt", root / "plate" / "link_in.txt");
        fs::create_symlink(base / "outside.txt", root / "plate" / "link_out.txt");
        fs::create_symlink(base, root / "plate" / "dir_out");
    }
    ~Tree() { fs::remove_all(base); }
};

}  // namespace

TEST(SourceFolder, NamesRelativeToTheFolder) {
    Tree t;
    const source::Folder root = source::Folder::at(t.root);
    const source::Folder plate = root.sub("plate");
    EXPECT_EQ(plate.path(), t.root / "plate");
    EXPECT_EQ(plate.root(), t.root);
    EXPECT_EQ(plate.path_of("sub/x.tif"), t.root / "plate" / "sub" / "x.tif");
    EXPECT_EQ(plate.read_all("a.txt"), "inside");
    EXPECT_EQ(plate.read_all("link_in.txt"), "inside");  // a symlink that stays inside is followed
    EXPECT_EQ(plate.size("a.txt"), 6u);
    EXPECT_TRUE(plate.is_file("a.txt"));
    EXPECT_FALSE(plate.is_file("missing.txt"));
    EXPECT_TRUE(root.is_dir("plate/sub"));
    std::vector<std::string> names;
    for (auto& e : plate.list()) names.push_back(plate.name_of(e.path));
    EXPECT_EQ(names, (std::vector<std::string>{"a.txt", "link_in.txt", "link_out.txt", "sub"}));
    EXPECT_EQ(root.list_tree("plate", 0).size(), 4u);
    EXPECT_EQ(plate.name_of(plate.path()), "");
    EXPECT_EQ(error_of([&] { root.read_all("plate/a.txt", 5); }),
              (t.root / "plate" / "a.txt").string() + ": file is 6 bytes, more than the 5 bytes allowed here");
}

TEST(SourceFolder, NamesLeavingTheFolderAreRefusedNamingTheNameAndTheFolder) {
    Tree t;
    const source::Folder plate = source::Folder::at(t.root).sub("plate");
    const std::string folder = plate.path().string();
    for (const std::string name : {"../outside.txt", "/etc/passwd", "sub/../../outside.txt", "..", "sub\\..\\..\\x"}) {
        for (const auto& op : std::vector<std::function<void()>>{
                 [&] { plate.open(name); }, [&] { plate.read_all(name); }, [&] { plate.size(name); },
                 [&] { plate.is_file(name); }, [&] { plate.is_dir(name); }, [&] { plate.list(name); },
                 [&] { plate.list_tree(name); }, [&] { plate.sub(name); }, [&] { plate.path_of(name); }}) {
            const std::string e = error_of(op);
            EXPECT_EQ(e.rfind(folder + ": '" + name + "': file name in metadata ", 0), 0u) << e;
            EXPECT_TRUE(e.find("leaves the source folder") != std::string::npos ||
                        e.find("is absolute") != std::string::npos)
                << e;
        }
    }
    // Symlinks that lead out: refused for reading, testing and listing alike, naming where they lead.
    for (const std::string name : {"link_out.txt", "dir_out/outside.txt", "dir_out"}) {
        for (const auto& op : std::vector<std::function<void()>>{[&] { plate.open(name); },
                                                                 [&] { plate.is_file(name); },
                                                                 [&] { plate.list(name); }}) {
            const std::string e = error_of(op);
            EXPECT_EQ(e.rfind((plate.path() / name).string() + ": resolves outside the source folder " +
                                  fs::canonical(t.root).string(),
                              0),
                      0u)
                << e;
            EXPECT_NE(e.find("(symlink to " + fs::canonical(t.base).string()), std::string::npos) << e;
        }
    }
    // The confinement root is the folder `at` was given: a sub-folder's handle may follow a link
    // to elsewhere in the root, a handle made at the sub-folder may not.
    fs::create_symlink(t.root / "elsewhere.txt", t.root / "plate" / "up.txt");
    test::write_bytes(t.root / "elsewhere.txt", "root");
    EXPECT_EQ(plate.read_all("up.txt"), "root");
    EXPECT_NE(error_of([&] { source::Folder::at(t.root / "plate").read_all("up.txt"); }).find("resolves outside"),
              std::string::npos);
    // The workflow's resolve_inside is the same check.
    EXPECT_NE(error_of([&] { resolve_inside(t.root / "plate", "link_out.txt"); }).find("resolves outside"),
              std::string::npos);
    EXPECT_NE(error_of([&] { resolve_inside(t.root, "a/../../x"); }).find("leaves the source folder"),
              std::string::npos);
}

TEST(SourceFolder, RemoteFoldersRefuseTheSameNamesWithoutAsking) {
    // No request is made: the names are refused before any provider is asked.
    const source::Folder remote = source::Folder::at("s3://bucket/plates/run1");
    EXPECT_EQ(remote.path_of("a/b.tif").string(), "s3://bucket/plates/run1/a/b.tif");
    EXPECT_EQ(remote.sub("a").path_of("b.tif").string(), "s3://bucket/plates/run1/a/b.tif");
    for (const std::string name : {"../run2/x.tif", "/x.tif", "a/../../x.tif"})
        EXPECT_EQ(error_of([&] { remote.open(name); }).rfind("s3://bucket/plates/run1: '" + name + "': ", 0), 0u)
            << error_of([&] { remote.open(name); });
}

// A layout reader runs on the handle it is given: a sub-folder's handle of a temporary tree, its
// planes named relative to that sub-folder; a metadata file that a symlink brings in from outside
// the source folder is refused, not read.
TEST(SourceFolder, CellVoyagerReadsThroughTheHandle) {
    Tree t;
    DemoPlateSpec spec;
    spec.rows = spec.cols = spec.sites = spec.zplanes = spec.tpoints = 1;
    spec.width = 32;
    spec.height = 24;
    const auto written = write_demo_plate(t.root / "run" / "Plate1", spec);
    const source::Folder plate = source::Folder::at(t.root).sub("run/Plate1");
    const LayoutReader& reader = *find_layout_reader("cellvoyager");
    EXPECT_EQ(reader.detect(plate), 90);
    const ImageSet set = reader.configure(plate, {});
    ASSERT_EQ(set.planes.size(), written.planes);
    for (auto& p : set.planes) {
        Plane px;
        read_plane(*plate.open(p.file), {0, p.page, p.sample}, px);
        EXPECT_EQ(px.width, 32u);
        EXPECT_EQ(px.height, 24u);
    }
    // The mrf moved out of the source folder and linked back in: refused naming the file.
    fs::rename(t.root / "run" / "Plate1" / "MeasurementDetail.mrf", t.base / "MeasurementDetail.mrf");
    fs::create_symlink(t.base / "MeasurementDetail.mrf", t.root / "run" / "Plate1" / "MeasurementDetail.mrf");
    const std::string e = error_of([&] { reader.configure(plate, {}); });
    EXPECT_NE(e.find("MeasurementDetail.mrf: resolves outside the source folder"), std::string::npos) << e;
}
