// Synthetic CellVoyager CV7000 acquisition: the same mlf/mrf structure, namespace and file naming
// as the real instrument, 16-bit TIFFs with a dark noisy background and blurred cells (nuclei in
// channel 1, cytoplasm in channel 2) that are in focus in the middle z-plane. Deterministic from
// the seed: a small integer PRNG, no std distributions (their output differs between libraries).
#include "demo/demo_plate.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "core/fileutil.h"
#include "core/types.h"
#include "render/image_writer.h"

namespace imx {

namespace fs = std::filesystem;

namespace {

struct Rng {
    uint64_t s;
    uint64_t next() {  // splitmix64
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    double uniform() { return double(next() >> 11) * 0x1.0p-53; }
    double range(double lo, double hi) { return lo + (hi - lo) * uniform(); }
    // Approximately standard normal (Irwin-Hall of 4 uniforms, rescaled): cheap and portable.
    double normal() { return (uniform() + uniform() + uniform() + uniform() - 2.0) * 1.7320508; }
};

struct Cell {
    double x, y, rx, ry, angle, nucleus, cytoplasm;
};

std::string plate_name() { return "DemoPlate"; }

std::string file_name(int row, int col, int t, int field, int z, int ch) {
    return fmt::format("{}_{}_T{:04d}F{:03d}L01A01Z{:02d}C{:02d}.tif", plate_name(), well_name(row, col), t + 1,
                       field + 1, z + 1, ch + 1);
}

void render(Plane& p, const std::vector<Cell>& cells, int channel, int z, int zplanes, uint64_t seed) {
    const uint32_t W = p.width, H = p.height;
    std::vector<float> img(size_t(W) * H, 0.f);
    const double mid = (zplanes - 1) / 2.0;
    const double focus = std::exp(-std::pow((z - mid) / 1.2, 2));
    const double blur = 1.0 + 0.8 * (1.0 - focus);
    for (auto& c : cells) {
        // Cytoplasm is a larger, dimmer, smoother blob around the nucleus.
        double scale = channel == 0 ? 1.0 : 2.2;
        double amp = (channel == 0 ? c.nucleus : c.cytoplasm) * (0.45 + 0.55 * focus);
        double rx = c.rx * scale * blur, ry = c.ry * scale * blur;
        double ca = std::cos(c.angle), sa = std::sin(c.angle);
        int x0 = std::max(0, int(c.x - 3 * rx)), x1 = std::min(int(W) - 1, int(c.x + 3 * rx));
        int y0 = std::max(0, int(c.y - 3 * rx)), y1 = std::min(int(H) - 1, int(c.y + 3 * rx));
        for (int y = y0; y <= y1; ++y)
            for (int x = x0; x <= x1; ++x) {
                double dx = x - c.x, dy = y - c.y;
                double u = (dx * ca + dy * sa) / rx, v = (-dx * sa + dy * ca) / ry;
                double r2 = u * u + v * v;
                if (r2 < 9) img[size_t(y) * W + x] += float(amp * std::exp(-0.5 * r2 * (channel == 0 ? 1.6 : 1.0)));
            }
    }
    Rng noise{seed};
    auto* out = p.as<uint16_t>();
    // Background with a gentle illumination gradient, shot noise and camera read noise.
    for (uint32_t y = 0; y < H; ++y)
        for (uint32_t x = 0; x < W; ++x) {
            double bg = 110 + 40.0 * x / W + 25.0 * y / H;
            double signal = bg + img[size_t(y) * W + x];
            double v = signal + std::sqrt(signal) * noise.normal() + 4.0 * noise.normal();
            out[size_t(y) * W + x] = uint16_t(std::clamp(v, 0.0, 65535.0));
        }
}

}  // namespace

DemoPlateResult write_demo_plate(const fs::path& folder, const DemoPlateSpec& spec) {
    if (spec.rows < 1 || spec.cols < 1 || spec.rows > 7 || spec.cols > 11 || spec.sites < 1 || spec.channels < 1 ||
        spec.zplanes < 1 || spec.tpoints < 1 || spec.width < 16 || spec.height < 16)
        throw Error("demo plate: invalid size (1 to 7 x 1 to 11 wells of a 96-well plate, at least one site, channel, "
                    "z-plane and time-point, planes at least 16 x 16 pixels)",
                    Error::Kind::usage);
    // The name goes into XML attributes unescaped: keep it to plain characters.
    if (spec.plate_name.empty() || spec.plate_name.size() > 64 ||
        !std::all_of(spec.plate_name.begin(), spec.plate_name.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_'; }))
        throw Error("demo plate: --plate-name takes 1 to 64 letters, digits, '-' or '_'", Error::Kind::usage);
    fs::create_directories(folder);
    DemoPlateResult res;
    res.folder = folder;

    struct Job {
        int row, col, site, t, c, z;
        uint64_t seed;
    };
    std::vector<Job> jobs;
    std::string mlf =
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
        "<bts:MeasurementData bts:Version=\"1.0\" xmlns:bts=\"http://www.yokogawa.co.jp/BTS/BTSSchema/1.0\">\n";
    const double pixel = 0.325, zstep = 2.0;
    for (int t = 0; t < spec.tpoints; ++t)
        for (int r = 0; r < spec.rows; ++r)
            for (int col = 0; col < spec.cols; ++col)
                for (int s = 0; s < spec.sites; ++s)
                    for (int z = 0; z < spec.zplanes; ++z)
                        for (int c = 0; c < spec.channels; ++c) {
                            int row = r + 1, column = col + 1;  // from B02
                            double sx = (s % 2) * spec.width * pixel - spec.width * pixel / 2;
                            double sy = (s / 2) * spec.height * pixel - spec.height * pixel / 2;
                            mlf += fmt::format(
                                "<bts:MeasurementRecord bts:Type=\"IMG\" bts:Time=\"2026-01-15T10:{:02d}:{:02d}.000+01:00\" "
                                "bts:Column=\"{}\" bts:Row=\"{}\" bts:TimePoint=\"{}\" bts:FieldIndex=\"{}\" "
                                "bts:ZIndex=\"{}\" bts:TimelineIndex=\"1\" bts:ActionIndex=\"1\" bts:Action=\"3D\" "
                                "bts:X=\"{:.1f}\" bts:Y=\"{:.1f}\" bts:Z=\"{:.1f}\" bts:Ch=\"{}\">{}</bts:MeasurementRecord>\n",
                                (r * spec.cols + col) % 60, (s * 7 + z) % 60, column + 1, row + 1, t + 1, s + 1, z + 1,
                                sx, sy, -4.0 + z * zstep, c + 1, file_name(row, column, t, s, z, c));
                            jobs.push_back({row, column, s, t, c, z, 0});
                        }
    mlf += "</bts:MeasurementData>\n";
    std::string mrf = fmt::format(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
        "<bts:MeasurementDetail bts:Version=\"1.0\" bts:OperatorName=\"imextract\" bts:Title=\"{0}\" "
        "bts:Application=\"\" bts:BeginTime=\"2026-01-15T10:00:00+01:00\" bts:EndTime=\"2026-01-15T11:00:00+01:00\" "
        "bts:ColumnCount=\"12\" bts:RowCount=\"8\" bts:TimePointCount=\"{1}\" "
        "bts:FieldCount=\"{2}\" bts:ZCount=\"{3}\" bts:TargetSystem=\"CV7000\" bts:ReleaseNumber=\"R1.17.05\" "
        "xmlns:bts=\"http://www.yokogawa.co.jp/BTS/BTSSchema/1.0\">\n"
        "  <bts:MeasurementSamplePlate bts:Name=\"{0}\" bts:WellPlateFileName=\"demo.wpi\" "
        "bts:WellPlateProductFileName=\"demo.wpp\" />\n",
        spec.plate_name, spec.tpoints, spec.sites, spec.zplanes);
    for (int c = 0; c < spec.channels; ++c)
        mrf += fmt::format(
            "  <bts:MeasurementChannel bts:Ch=\"{}\" bts:HorizontalPixelDimension=\"{}\" bts:VerticalPixelDimension=\"{}\" "
            "bts:CameraNumber=\"{}\" bts:InputBitDepth=\"16\" bts:InputLevel=\"1000\" bts:HorizontalPixels=\"{}\" "
            "bts:VerticalPixels=\"{}\" bts:FilterWheelPosition=\"{}\" bts:FilterPosition=\"1\" />\n",
            c + 1, pixel, pixel, c % 4 + 1, spec.width, spec.height, c + 1);
    mrf += "</bts:MeasurementDetail>\n";
    write_file_atomic(folder / "MeasurementData.mlf", mlf);
    write_file_atomic(folder / "MeasurementDetail.mrf", mrf);

    // Cells per (well, site): the same cells in every channel, z-plane and time-point (moving a
    // little over time).
    auto cells_for = [&](int row, int col, int site, int t) {
        Rng rng{spec.seed ^ (uint64_t(row) << 40) ^ (uint64_t(col) << 32) ^ (uint64_t(site) << 16)};
        // 20-60 cells in a 640x540 field, as many per area in other sizes.
        double area = double(spec.width) * spec.height / (640.0 * 540.0);
        int n = std::max(2, int((20 + int(rng.next() % 41)) * area));
        std::vector<Cell> cells;
        for (int i = 0; i < n; ++i) {
            Cell c;
            c.x = rng.range(0, spec.width) + 3.0 * t;
            c.y = rng.range(0, spec.height);
            c.rx = rng.range(6, 12);
            c.ry = c.rx * rng.range(0.6, 1.0);
            c.angle = rng.range(0, 3.14159);
            c.nucleus = rng.range(2500, 20000);
            c.cytoplasm = rng.range(800, 5000);
            cells.push_back(c);
        }
        return cells;
    };
    std::atomic<size_t> next{0};
    std::atomic<uint64_t> bytes{0};
    std::exception_ptr failure;
    std::mutex failure_mu;
    auto worker = [&] {
        Plane p;
        p.allocate(DType::u16, spec.width, spec.height);
        for (size_t i = next++; i < jobs.size(); i = next++) {
            const Job& j = jobs[i];
            try {
                render(p, cells_for(j.row, j.col, j.site, j.t), j.c, j.z, spec.zplanes,
                       spec.seed * 1000003 + i);
                fs::path f = folder / file_name(j.row, j.col, j.t, j.site, j.z, j.c);
                write_tiff(f, p);
                bytes += fs::file_size(f);
            } catch (...) {
                std::lock_guard lock(failure_mu);
                failure = std::current_exception();
                next = jobs.size();
            }
        }
    };
    unsigned n = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
    std::vector<std::thread> pool;
    for (unsigned i = 0; i < n; ++i) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
    if (failure) std::rethrow_exception(failure);
    res.planes = jobs.size();
    res.bytes = bytes;
    return res;
}

}  // namespace imx
