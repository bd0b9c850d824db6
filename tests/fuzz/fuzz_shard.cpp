// A Zarr v3 shard (chunks + index + CRC-32C) read back by NgffPlate: the input is the stored shard
// object of a 2x2-plane field with blosc-lz4 chunks, read as whole planes, and again as the shard of
// a plate of 40x20 planes in 16x16 tiles (3x2 tiles a plane), read as planes and as a rectangle.
#include "fuzz_common.h"
#include "storage/store.h"
#include "zarr/ngff.h"

using namespace imx;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static auto store = open_store((fuzz::scratch() / "store").string());
    PlateLayout L;
    L.name = "P";
    L.path = "P.zarr";
    L.rows = L.cols = 1;
    L.wells = {{0, 0, 1}};
    L.channels = {{"a", "FFFFFF", 0, 0}, {"b", "FFFFFF", 0, 0}};
    L.zplanes = 2;
    L.width = 8;
    L.height = 4;
    L.levels = 1;
    L.ngff = "0.5";
    L.shard = ShardMode::field;
    L.codec = parse_codec("blosc-lz4");
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    NgffPlate plate(*store, L);  // a new plate each time: no shard cached from the last input
    store->put(plate.chunk_key(0, 0, 0, 0, 0, 0), input);
    for (int c = 0; c < 2; ++c)
        for (int z = 0; z < 2; ++z) {
            try {
                plate.read_plane(0, 0, 0, 0, c, z);
            } catch (const Error&) {
            }
        }
    L.path = "T.zarr";
    L.width = 40;
    L.height = 20;
    L.chunk_y = L.chunk_x = 16;
    NgffPlate tiled(*store, L);
    store->put(tiled.chunk_key(0, 0, 0, 0, 0, 0), input);
    Plane region;
    for (int c = 0; c < 2; ++c)
        for (int z = 0; z < 2; ++z) {
            try {
                tiled.read_plane(0, 0, 0, 0, c, z);
            } catch (const Error&) {
            }
            try {
                tiled.read_region_into(region, 0, 0, 0, 0, c, z, 0, {10, 12, 10, 20});
            } catch (const Error&) {
            }
        }
    return 0;
}
