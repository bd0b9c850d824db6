#include "storage/scheme.h"

#include "core/types.h"
#include "storage/s3/s3_store.h"
#include "storage/store.h"

namespace imx {

namespace {

const Scheme kSchemes[] = {
    {"s3", s3::open, s3::sources},
};

}  // namespace

std::span<const Scheme> schemes() { return kSchemes; }

const Scheme* scheme_of(std::string_view url) {
    for (const Scheme& s : kSchemes)
        if (url.size() >= s.name.size() + 3 && url.substr(0, s.name.size()) == s.name &&
            url.substr(s.name.size(), 3) == "://")
            return &s;
    return nullptr;
}

std::unique_ptr<Store> open_store(const std::string& url) {
    if (const Scheme* s = scheme_of(url)) return s->open_store(url);
    std::string path = url.rfind("file://", 0) == 0 ? url.substr(7) : url;
    if (path.empty()) throw Error("empty store path", Error::Kind::usage);
    return make_filesystem_store(std::filesystem::absolute(path).lexically_normal());
}

}  // namespace imx
