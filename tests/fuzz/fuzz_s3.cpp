// Fuzz entry for the S3 store's parsers of untrusted text: server XML (error documents), AWS
// credential/config files, and store URLs (from the command line or a job file).
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/types.h"
#include "storage/s3/s3_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    (void)imx::s3::parse_error(text);
    (void)imx::s3::parse_ini(text);
    try {
        auto loc = imx::s3::parse_url("s3://" + text);
        (void)imx::s3::display_url(loc);
    } catch (const imx::Error&) {
    }
    (void)imx::s3::canonical_query({{"prefix", text}, {"list-type", "2"}});
    return 0;
}
