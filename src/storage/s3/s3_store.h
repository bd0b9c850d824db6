// S3-compatible object storage backend of Store (AWS S3, Ceph radosgw, MinIO, ...), over libcurl
// with its built-in AWS Signature V4. The pure parts (URL parsing, URI encoding, credential files,
// error XML, retry classification) are declared here so that unit tests can reach them.
//
// Store URL: s3://BUCKET[/PREFIX][?endpoint=URL&addressing=path|virtual]
//   endpoint:   defaults to AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else https://s3.REGION.amazonaws.com
//   addressing: path (default: http://host/bucket/key) or virtual (http://bucket.host/key);
//               IMX_S3_ADDRESSING overrides the default.
// Credentials come only from the environment or ~/.aws at open time, never from the URL, so the
// URL (which is saved in the catalog and job files) holds no secret.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/store.h"

namespace imx {
class SourceProvider;
}

namespace imx::s3 {

struct Location {
    std::string bucket;
    std::string prefix;    // no leading or trailing '/'; may be empty
    std::string endpoint;  // "" when the URL does not name one
    std::string addressing;  // "", "path" or "virtual"
};
// Parses an s3:// URL; throws Error (usage) naming the URL on anything malformed, including
// user:password@ parts (credentials never go into a URL that is saved).
Location parse_url(const std::string& url);
// The URL without its query: "s3://bucket/prefix".
std::string display_url(const Location& loc);
// Adds `endpoint` to an s3:// store URL (`create --s3-endpoint`); throws Error (usage) when the
// URL is not s3:// or names an endpoint already, or the endpoint is not scheme://host[:port].
std::string with_endpoint(const std::string& store_url, const std::string& endpoint);
// Joins a store URL and a key for messages: "s3://bucket/prefix/key" or "/path/key".
std::string describe_key(const std::string& store_url, const std::string& key);

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters stay, everything else is
// %XX (uppercase); '/' stays only when keep_slash.
std::string uri_encode(std::string_view s, bool keep_slash);
// "a=1&b=x%2Fy": parameters sorted by name, names and values encoded, empty values as "name=".
std::string canonical_query(const std::map<std::string, std::string>& params);

// Minimal INI parser for ~/.aws/credentials and ~/.aws/config: sections -> key -> value, keys
// lowercased, '#'/';' comments, whitespace trimmed.
using Ini = std::map<std::string, std::map<std::string, std::string>>;
Ini parse_ini(std::string_view text);

struct Credentials {
    std::string access_key;
    std::string secret_key;
    std::string session_token;
};
struct Settings {
    Credentials credentials;
    std::string region;
    std::string endpoint;      // scheme://host[:port], no trailing '/'
    bool virtual_hosted = false;
    int max_attempts = 5;      // IMX_S3_RETRIES + 1
    uint64_t multipart_threshold = 8u << 20;
    uint64_t part_size = 8u << 20;
    long connect_timeout_ms = 5000;
    long low_speed_seconds = 30;  // abort a transfer slower than 1 byte/s for this long
};
// Environment lookup, injectable for tests.
using Getenv = std::optional<std::string> (*)(const char*);
// Resolves credentials, region, endpoint and tuning for `loc` from the environment and the AWS
// files (AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE, else ~/.aws/credentials and ~/.aws/config).
Settings resolve_settings(const Location& loc, Getenv getenv);

// The parts of an S3 <Error> document; empty fields when the body is not one.
struct ErrorInfo {
    std::string code;
    std::string message;
};
ErrorInfo parse_error(std::string_view body);

// Whether a failed attempt is worth repeating: curl transport errors (connect, timeouts, resets)
// and 5xx / 429 / SlowDown / RequestTimeout answers. Other 4xx fail at once.
bool retryable(int curl_code, long http_status, const std::string& error_code);
// Backoff before attempt `attempt` (1-based retry number): capped exponential, full jitter.
long backoff_ms(int attempt, double jitter01);

// A short hint for well-known error codes ("check AWS_SECRET_ACCESS_KEY").
std::string hint_for(const std::string& error_code);

std::unique_ptr<Store> open(const std::string& url);

// The provider of s3:// source folders (s3_sources.cpp), registered with open() in scheme.cpp.
SourceProvider& sources();
// Serves "s3://BUCKET/..." sources from the given store instead of an S3 server (unit tests count
// what a reader fetches this way).
void use_store_for_bucket(const std::string& bucket, std::shared_ptr<Store> store);

}  // namespace imx::s3
