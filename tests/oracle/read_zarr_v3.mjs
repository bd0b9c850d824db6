// Independent Zarr v3 reader for the tests: zarrita (npm) reads one plane of an imextract NGFF 0.5
// array, sharded or not, and writes its raw little-endian pixels to a file.
// usage: node read_zarr_v3.mjs ARRAY_FOLDER T C Z OUT_FILE   (prints the array's shape and dimension names)
import * as zarr from "zarrita";
import { FileSystemStore } from "@zarrita/storage";
import { writeFileSync } from "node:fs";

const [folder, t, c, z, out] = process.argv.slice(2);
const store = new FileSystemStore(folder);
const arr = await zarr.open.v3(zarr.root(store), { kind: "array" });
const plane = await zarr.get(arr, [Number(t), Number(c), Number(z), null, null]);
const data = plane.data;
writeFileSync(out, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
console.log(JSON.stringify({ shape: arr.shape, chunks: arr.chunks, dtype: arr.dtype, dims: arr.attrs?.dimension_names ?? null, plane: plane.shape }));
