// The pure parts of the S3 backend (s3_store.h): store URLs, URI encoding, canonical query strings,
// the AWS credential and config files, settings from the environment, S3 error documents and the
// retry rules. No network: unit-tested directly.
#include "storage/s3/s3_store.h"

#include <curl/curl.h>

#include <pugixml.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/log.h"
#include "core/types.h"

namespace imx::s3 {

namespace {

Error usage(const std::string& m) { return Error(m, Error::Kind::usage); }

bool valid_bucket(const std::string& b) {
    if (b.size() < 3 || b.size() > 63) return false;
    for (char c : b)
        if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-' ||
              c == '.'))
            return false;
    return b.front() != '-' && b.front() != '.' && b.back() != '-' && b.back() != '.';
}

std::string lower(std::string s) {
    for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string percent_decode(std::string_view s, const std::string& url) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%') {
            int h = i + 2 < s.size() ? hexval(s[i + 1]) : -1, l = i + 2 < s.size() ? hexval(s[i + 2]) : -1;
            if (h < 0 || l < 0) throw usage(url + ": bad %-escape in the query");
            out.push_back(char(h * 16 + l));
            i += 2;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

// Checks an endpoint ("http://127.0.0.1:17480") and drops a trailing '/'.
std::string check_endpoint(std::string e, const std::string& where) {
    while (!e.empty() && e.back() == '/') e.pop_back();
    if (e.rfind("http://", 0) != 0 && e.rfind("https://", 0) != 0)
        throw usage(where + ": the S3 endpoint must start with http:// or https:// (got '" + e + "')");
    std::string rest = e.substr(e.find("://") + 3);
    if (rest.empty() || rest.find_first_of("/?#@& ") != std::string::npos)
        throw usage(where + ": the S3 endpoint must be scheme://host[:port] without path, query or user (got '" +
                    e + "')");
    return e;
}

std::optional<std::string> read_text_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    if (s.size() > (1u << 20)) return std::nullopt;  // not an AWS config file
    return s;
}

uint64_t env_number(Getenv getenv, const char* name, uint64_t fallback, uint64_t min, uint64_t max) {
    auto v = getenv(name);
    if (!v || v->empty()) return fallback;
    char* end = nullptr;
    errno = 0;
    unsigned long long n = std::strtoull(v->c_str(), &end, 10);
    if (errno || *end || v->front() == '-' || n < min || n > max)
        throw usage(std::string(name) + "='" + *v + "' must be a whole number from " + std::to_string(min) + " to " +
                    std::to_string(max));
    return n;
}

}  // namespace

Location parse_url(const std::string& url) {
    if (url.rfind("s3://", 0) != 0) throw usage(url + ": not an s3:// URL");
    std::string rest = url.substr(5), query;
    if (auto q = rest.find('?'); q != std::string::npos) {
        query = rest.substr(q + 1);
        rest.resize(q);
    }
    if (rest.find('#') != std::string::npos) throw usage(url + ": '#' is not allowed in an S3 store URL");
    Location loc;
    auto slash = rest.find('/');
    loc.bucket = rest.substr(0, slash);
    if (loc.bucket.find('@') != std::string::npos || loc.bucket.find(':') != std::string::npos)
        throw usage("an S3 store URL must not contain credentials or a port (use AWS_ACCESS_KEY_ID / "
                    "AWS_SECRET_ACCESS_KEY, and --s3-endpoint for the server)");
    if (!valid_bucket(loc.bucket))
        throw usage(display_url(loc) + ": '" + loc.bucket +
                    "' is not a valid bucket name (3-63 characters: a-z, 0-9, '-', '.')");
    if (slash != std::string::npos) {
        std::string p = rest.substr(slash + 1);
        while (!p.empty() && p.back() == '/') p.pop_back();
        if (!p.empty()) check_key(p);  // no empty, '.' or '..' parts
        loc.prefix = p;
    }
    size_t start = 0;
    while (start < query.size()) {
        size_t end = query.find('&', start);
        if (end == std::string::npos) end = query.size();
        std::string part = query.substr(start, end - start);
        start = end + 1;
        if (part.empty()) continue;
        auto eq = part.find('=');
        std::string name = part.substr(0, eq);
        std::string value = eq == std::string::npos ? "" : percent_decode(part.substr(eq + 1), url);
        if (name == "endpoint") {
            loc.endpoint = check_endpoint(value, "s3://" + loc.bucket);
        } else if (name == "addressing") {
            if (value != "path" && value != "virtual")
                throw usage(url + ": addressing must be 'path' or 'virtual' (got '" + value + "')");
            loc.addressing = value;
        } else {
            throw usage("s3://" + loc.bucket + ": unknown store URL parameter '" + name +
                        "' (known: endpoint, addressing)");
        }
    }
    return loc;
}

std::string display_url(const Location& loc) {
    return "s3://" + loc.bucket + (loc.prefix.empty() ? "" : "/" + loc.prefix);
}

std::string with_endpoint(const std::string& store_url, const std::string& endpoint) {
    if (store_url.rfind("s3://", 0) != 0)
        throw usage("--s3-endpoint needs an s3:// --store (got '" + store_url + "')");
    Location loc = parse_url(store_url);
    if (!loc.endpoint.empty()) throw usage(store_url + ": the store URL names an endpoint already");
    std::string e = check_endpoint(endpoint, "--s3-endpoint");
    return store_url + (store_url.find('?') == std::string::npos ? "?" : "&") + "endpoint=" + uri_encode(e, false);
}

std::string describe_key(const std::string& store_url, const std::string& key) {
    if (store_url.rfind("s3://", 0) == 0) {
        std::string base = store_url.substr(0, store_url.find('?'));
        while (!base.empty() && base.back() == '/') base.pop_back();
        return key.empty() ? base : base + "/" + key;
    }
    std::string base = store_url.rfind("file://", 0) == 0 ? store_url.substr(7) : store_url;
    if (key.empty()) return base;
    return base + (base.empty() || base.back() == '/' ? "" : "/") + key;
}

std::string uri_encode(std::string_view s, bool keep_slash) {
    static const char* digits = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
            out.push_back(char(c));
        } else {
            out.push_back('%');
            out.push_back(digits[c >> 4]);
            out.push_back(digits[c & 15]);
        }
    }
    return out;
}

std::string canonical_query(const std::map<std::string, std::string>& params) {
    // Sorting must be by the encoded name; encoding keeps the order of the unreserved characters
    // S3 parameter names use, so the map's order is the encoded order too.
    std::vector<std::pair<std::string, std::string>> enc;
    for (auto& [k, v] : params) enc.emplace_back(uri_encode(k, false), uri_encode(v, false));
    std::sort(enc.begin(), enc.end());
    std::string out;
    for (auto& [k, v] : enc) {
        if (!out.empty()) out += '&';
        out += k + "=" + v;
    }
    return out;
}

Ini parse_ini(std::string_view text) {
    Ini ini;
    std::string section;
    size_t start = 0;
    while (start <= text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string line = trim(text.substr(start, end - start));
        start = end + 1;
        if (line.empty() || line[0] == '#' || line[0] == ';') continue;
        if (line.front() == '[') {
            auto close = line.find(']');
            section = close == std::string::npos ? "" : trim(std::string_view(line).substr(1, close - 1));
            continue;
        }
        auto eq = line.find('=');
        if (eq == std::string::npos || section.empty()) continue;
        ini[section][lower(trim(std::string_view(line).substr(0, eq)))] = trim(std::string_view(line).substr(eq + 1));
    }
    return ini;
}

Settings resolve_settings(const Location& loc, Getenv getenv) {
    Settings s;
    auto env = [&](const char* name) -> std::string {
        auto v = getenv(name);
        return v ? *v : std::string();
    };
    std::string profile = env("AWS_PROFILE");
    if (profile.empty()) profile = "default";
    std::string home = env("HOME");
    std::string cred_file = env("AWS_SHARED_CREDENTIALS_FILE");
    if (cred_file.empty() && !home.empty()) cred_file = home + "/.aws/credentials";
    std::string conf_file = env("AWS_CONFIG_FILE");
    if (conf_file.empty() && !home.empty()) conf_file = home + "/.aws/config";
    Ini creds, conf;
    if (!cred_file.empty())
        if (auto t = read_text_file(cred_file)) creds = parse_ini(*t);
    if (!conf_file.empty())
        if (auto t = read_text_file(conf_file)) conf = parse_ini(*t);
    // ~/.aws/config names sections "profile NAME" except the default one.
    std::map<std::string, std::string> conf_section;
    if (auto it = conf.find(profile == "default" ? "default" : "profile " + profile); it != conf.end())
        conf_section = it->second;

    s.credentials.access_key = env("AWS_ACCESS_KEY_ID");
    s.credentials.secret_key = env("AWS_SECRET_ACCESS_KEY");
    s.credentials.session_token = env("AWS_SESSION_TOKEN");
    if (s.credentials.access_key.empty() || s.credentials.secret_key.empty()) {
        std::map<std::string, std::string> sec;
        if (auto it = creds.find(profile); it != creds.end()) sec = it->second;
        else sec = conf_section;
        s.credentials.access_key = sec["aws_access_key_id"];
        s.credentials.secret_key = sec["aws_secret_access_key"];
        s.credentials.session_token = sec["aws_session_token"];
        if (s.credentials.access_key.empty() || s.credentials.secret_key.empty()) {
            if (env("AWS_PROFILE").empty())
                throw usage(display_url(loc) + ": no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                                               "or AWS_PROFILE with a profile in ~/.aws/credentials");
            throw usage(display_url(loc) + ": AWS_PROFILE '" + profile + "' has no aws_access_key_id and "
                        "aws_secret_access_key in " + (cred_file.empty() ? "~/.aws/credentials" : cred_file));
        }
    }

    s.region = env("AWS_REGION");
    if (s.region.empty()) s.region = env("AWS_DEFAULT_REGION");
    if (s.region.empty()) s.region = conf_section["region"];
    if (s.region.empty()) s.region = "us-east-1";
    if (s.region.find_first_of(":/ ") != std::string::npos) throw usage("bad AWS region '" + s.region + "'");

    std::string endpoint = loc.endpoint;
    if (endpoint.empty()) endpoint = env("AWS_ENDPOINT_URL_S3");
    if (endpoint.empty()) endpoint = env("AWS_ENDPOINT_URL");
    s.endpoint = endpoint.empty() ? "https://s3." + s.region + ".amazonaws.com"
                                  : check_endpoint(endpoint, display_url(loc));

    std::string addressing = loc.addressing;
    if (addressing.empty()) addressing = env("IMX_S3_ADDRESSING");
    if (!addressing.empty() && addressing != "path" && addressing != "virtual")
        throw usage("IMX_S3_ADDRESSING must be 'path' or 'virtual' (got '" + addressing + "')");
    s.virtual_hosted = addressing == "virtual";
    if (s.virtual_hosted && loc.bucket.find('.') != std::string::npos && s.endpoint.rfind("https://", 0) == 0)
        log::warn("{}: a bucket name with '.' does not match the server's TLS certificate with virtual-hosted "
                  "addressing; use path-style if connections fail", display_url(loc));

    s.max_attempts = int(env_number(getenv, "IMX_S3_RETRIES", 4, 0, 20)) + 1;
    s.multipart_threshold = env_number(getenv, "IMX_S3_MULTIPART_THRESHOLD", 8u << 20, 5u << 20, 5ull << 30);
    s.part_size = env_number(getenv, "IMX_S3_PART_SIZE", 8u << 20, 5u << 20, 5ull << 30);
    s.connect_timeout_ms = long(env_number(getenv, "IMX_S3_CONNECT_TIMEOUT_MS", 5000, 100, 600000));
    s.low_speed_seconds = long(env_number(getenv, "IMX_S3_LOW_SPEED_TIME", 30, 1, 3600));
    return s;
}

ErrorInfo parse_error(std::string_view body) {
    ErrorInfo info;
    pugi::xml_document doc;
    if (!doc.load_buffer(body.data(), body.size())) return info;
    auto err = doc.child("Error");
    if (!err) return info;
    info.code = err.child_value("Code");
    info.message = err.child_value("Message");
    // A server's message is untrusted text in our error: keep it short and on one line.
    if (info.message.size() > 200) info.message = info.message.substr(0, 200) + "...";
    for (auto& c : info.message)
        if (c == '\n' || c == '\r') c = ' ';
    return info;
}

bool retryable(int curl_code, long http_status, const std::string& error_code) {
    if (curl_code != CURLE_OK) {
        switch (curl_code) {
            case CURLE_COULDNT_RESOLVE_HOST:
            case CURLE_COULDNT_CONNECT:
            case CURLE_OPERATION_TIMEDOUT:
            case CURLE_SEND_ERROR:
            case CURLE_RECV_ERROR:
            case CURLE_GOT_NOTHING:
            case CURLE_PARTIAL_FILE:
            case CURLE_SSL_CONNECT_ERROR:
            case CURLE_HTTP2:
            case CURLE_HTTP2_STREAM:
            case CURLE_WEIRD_SERVER_REPLY:
                return true;
            default:
                return false;  // bad URL, TLS certificate, out of memory, ...: repeating will not help
        }
    }
    if (http_status >= 500 || http_status == 429) return true;
    return error_code == "SlowDown" || error_code == "RequestTimeout" || error_code == "InternalError" ||
           error_code == "RequestTimeTooSkewed";
}

long backoff_ms(int attempt, double jitter01) {
    const long base = 200, cap = 5000;
    long d = base;
    for (int i = 1; i < attempt && d < cap; ++i) d *= 2;
    d = std::min(d, cap);
    jitter01 = std::clamp(jitter01, 0.0, 1.0);
    return d / 2 + long(double(d / 2) * jitter01);  // "equal jitter": spread, never zero
}

std::string hint_for(const std::string& code) {
    if (code == "SignatureDoesNotMatch") return "check AWS_SECRET_ACCESS_KEY";
    if (code == "InvalidAccessKeyId") return "check AWS_ACCESS_KEY_ID";
    if (code == "NoSuchBucket") return "the bucket does not exist: create it first";
    if (code == "AccessDenied") return "the credentials may not access this bucket or key";
    if (code == "RequestTimeTooSkewed") return "the system clock is off";
    if (code == "ExpiredToken" || code == "InvalidToken") return "check AWS_SESSION_TOKEN";
    return "";
}

}  // namespace imx::s3
