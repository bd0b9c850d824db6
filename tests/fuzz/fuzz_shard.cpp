// A Zarr v3 shard (chunks + index + CRC-32C) read back by NgffPlate: the input is the stored shard
// object of a 2x2-plane field with blosc-lz4 chunks.
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
    NgffPlate plate(*store, L);  // a new plate each time: no shard cached from the last input
    store->put(plate.chunk_key(0, 0, 0, 0, 0, 0), std::string_view(reinterpret_cast<const char*>(data), size));
    for (int c = 0; c < 2; ++c)
        for (int z = 0; z < 2; ++z) {
            try {
                plate.read_plane(0, 0, 0, 0, c, z);
            } catch (const Error&) {
            }
        }
    return 0;
}
