#include "core/checksum.h"

#include <xxhash.h>

#include <cstdio>
#include <new>

namespace imx {
std::string pixel_checksum(const void* data, size_t n) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(XXH3_64bits(data, n)));
    return buf;
}

struct PixelChecksum::State {
    XXH3_state_t* xxh = XXH3_createState();
    ~State() { XXH3_freeState(xxh); }
};

PixelChecksum::PixelChecksum() : state_(std::make_unique<State>()) {
    if (!state_->xxh) throw std::bad_alloc();
    XXH3_64bits_reset(state_->xxh);
}

PixelChecksum::~PixelChecksum() = default;

void PixelChecksum::update(const void* data, size_t n) { XXH3_64bits_update(state_->xxh, data, n); }

std::string PixelChecksum::hex() const {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(XXH3_64bits_digest(state_->xxh)));
    return buf;
}
}  // namespace imx
