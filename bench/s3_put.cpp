// Parallel PUT throughput of the S3 store: N objects of SIZE bytes from T threads sharing one
// store (its pool of keep-alive connections), then the objects are deleted by prefix.
// usage: s3_put STORE_URL THREADS COUNT SIZE   (credentials from AWS_* as for imextract)
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "storage/store.h"

int main(int argc, char** argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: %s STORE_URL THREADS COUNT SIZE\n", argv[0]);
        return 2;
    }
    int threads = std::atoi(argv[2]), count = std::atoi(argv[3]);
    size_t size = std::strtoull(argv[4], nullptr, 10);
    if (threads < 1 || count < 1 || size < 1) return 2;
    try {
        auto store = imx::open_store(argv[1]);
        std::string value(size, '\0');
        for (size_t i = 0; i < size; ++i) value[i] = char((i * 2654435761u) >> 13);
        std::string prefix = "bench-" + std::to_string(threads);
        store->put(prefix + "/warmup", "x");  // connection set-up is not what we measure
        std::atomic<int> next{0};
        auto t0 = std::chrono::steady_clock::now();
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t)
            pool.emplace_back([&] {
                for (int i = next++; i < count; i = next++) store->put(prefix + "/o" + std::to_string(i), value);
            });
        for (auto& t : pool) t.join();
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::printf("threads %d: %d PUTs of %zu bytes in %.2f s: %.0f PUT/s, %.1f MB/s\n", threads, count, size, s,
                    count / s, double(count) * double(size) / s / 1e6);
        store->remove_prefix(prefix);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "s3_put: %s\n", e.what());
        return 1;
    }
    return 0;
}
