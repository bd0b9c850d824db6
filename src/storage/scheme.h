// URL schemes, as TensorStore registers its kvstore drivers: each registered scheme ("s3") brings a
// Store backend for the plates and a source provider for microscope folders at such URLs. A path
// without a registered scheme is local (file:// also names a local store). Adding a backend: one
// file with its Store and SourceProvider, one line in kSchemes (scheme.cpp); nothing else tests
// for the scheme.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/source_files.h"

namespace imx {

class Store;

// The microscope files under one scheme's URLs, as storage/source_files.h hands them to readers.
// One object per scheme and process: it owns what it caches (listings, sizes, blocks of files).
class SourceProvider {
public:
    virtual ~SourceProvider() = default;
    // A URL as given (with options such as "?endpoint=URL") -> the URL readers use and the endpoint
    // it names ("" when none). Throws Error (usage) naming the URL when it is malformed.
    virtual source::RemoteSpec parse(const std::string& given) const = 0;
    // The endpoint of URLs that name none (the experiment's); what was cached from another goes.
    virtual void set_endpoint(const std::string& endpoint) = 0;
    virtual std::vector<source::Entry> list_tree(const std::filesystem::path& dir, int max_depth,
                                                 size_t max_entries) = 0;
    virtual bool is_dir(const std::filesystem::path& p) = 0;
    virtual std::optional<uint64_t> file_size(const std::filesystem::path& p) = 0;
    virtual std::unique_ptr<source::File> open(const std::filesystem::path& p) = 0;
    virtual void remove(const std::filesystem::path& p) = 0;
    virtual void clear_cache() = 0;
};

struct Scheme {
    std::string_view name;  // "s3": its URLs start with "s3://"
    std::unique_ptr<Store> (*open_store)(const std::string& url);
    SourceProvider& (*sources)();  // the process's provider
};

// The registered scheme of `url`, nullptr for a local path.
const Scheme* scheme_of(std::string_view url);
std::span<const Scheme> schemes();

}  // namespace imx
