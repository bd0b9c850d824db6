// S3 backend of Store over libcurl (CURLOPT_AWS_SIGV4). See s3_store.h for the URL form and where
// settings come from. Gotchas met with real servers (Ceph radosgw):
// - libcurl signs x-amz-content-sha256 but does not add it: we always send it.
// - libcurl signs the query string exactly as written: we sort and encode it (canonical_query).
#include "storage/s3/s3_store.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <pugixml.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

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

std::string trim(std::string_view s) {
    size_t a = 0, b = s.size();
    while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
    while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
    return std::string(s.substr(a, b - a));
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

std::string hex(const unsigned char* p, size_t n) {
    static const char* digits = "0123456789abcdef";
    std::string out(2 * n, '\0');
    for (size_t i = 0; i < n; ++i) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    return out;
}

std::string digest(const EVP_MD* md, std::string_view data, bool as_hex) {
    unsigned char buf[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), buf, &len, md, nullptr) != 1)
        throw Error("S3: cannot compute a digest (OpenSSL)", Error::Kind::storage);
    if (as_hex) return hex(buf, len);
    std::string b64(4 * ((len + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), buf, int(len));
    b64.resize(size_t(n));
    return b64;
}

std::string xml_escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&apos;"; break;
            default: out.push_back(c);
        }
    }
    return out;
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

namespace {

const std::string kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct Request {
    std::string method = "GET";
    std::string key;  // full object key in the bucket; "" for bucket-level requests
    std::map<std::string, std::string> query;
    std::string_view body;
    std::vector<std::string> headers;
    bool not_found_ok = false;  // 404 NoSuchKey (or a bodiless 404 on HEAD) is an answer, not an error
    bool range_ok = false;      // 416 InvalidRange (a range past the end) is an answer, not an error
};

struct Response {
    long status = 0;
    std::string body;
    std::string etag;
    int64_t content_length = -1;
};

size_t on_body(char* p, size_t sz, size_t n, void* ud) {
    static_cast<Response*>(ud)->body.append(p, sz * n);
    return sz * n;
}

size_t on_header(char* p, size_t sz, size_t n, void* ud) {
    std::string_view line(p, sz * n);
    auto colon = line.find(':');
    if (colon != std::string_view::npos && lower(std::string(line.substr(0, colon))) == "etag")
        static_cast<Response*>(ud)->etag = trim(line.substr(colon + 1));
    return sz * n;
}

struct Upload {
    std::string_view data;
    size_t offset = 0;
};

size_t on_read(char* buf, size_t sz, size_t n, void* ud) {
    auto* u = static_cast<Upload*>(ud);
    size_t take = std::min(sz * n, u->data.size() - u->offset);
    std::memcpy(buf, u->data.data() + u->offset, take);
    u->offset += take;
    return take;
}

int on_seek(void* ud, curl_off_t offset, int origin) {
    auto* u = static_cast<Upload*>(ud);
    if (origin != SEEK_SET || offset < 0 || size_t(offset) > u->data.size()) return CURL_SEEKFUNC_FAIL;
    u->offset = size_t(offset);
    return CURL_SEEKFUNC_OK;
}

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            throw Error("S3: libcurl initialisation failed", Error::Kind::storage);
    });
}

class S3Store final : public Store {
public:
    S3Store(std::string url, Location loc, Settings s)
        : url_(std::move(url)), loc_(std::move(loc)), s_(std::move(s)) {
        std::string scheme = s_.endpoint.substr(0, s_.endpoint.find("://") + 3);
        std::string host = s_.endpoint.substr(scheme.size());
        base_ = s_.virtual_hosted ? scheme + loc_.bucket + "." + host + "/" : s_.endpoint + "/" + loc_.bucket + "/";
        sigv4_ = "aws:amz:" + s_.region + ":s3";
        jitter_.seed(std::random_device{}());
    }

    ~S3Store() override {
        for (CURL* h : pool_) curl_easy_cleanup(h);
    }

    std::string url() const override { return url_; }

    void put(const std::string& key, std::string_view value) override {
        check_key(key);
        std::string k = full(key);
        if (value.size() > s_.multipart_threshold) return put_multipart(k, value);
        Request r;
        r.method = "PUT";
        r.key = k;
        r.body = value;
        perform(r);
    }

    std::optional<std::string> get(const std::string& key) const override {
        check_key(key);
        Request r;
        r.key = full(key);
        r.not_found_ok = true;
        Response resp = perform(r);
        if (resp.status == 404) return std::nullopt;
        return std::move(resp.body);
    }

    std::optional<std::string> get_range(const std::string& key, uint64_t offset, uint64_t length) const override {
        check_key(key);
        if (length == 0) return size(key) ? std::optional<std::string>(std::string()) : std::nullopt;
        Request r;
        r.key = full(key);
        r.not_found_ok = true;
        r.range_ok = true;
        r.headers.push_back("Range: bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1));
        Response resp = perform(r);
        if (resp.status == 404) return std::nullopt;
        if (resp.status == 416) return std::string();  // the range starts past the end
        // A server that ignores Range answers 200 with the whole object.
        if (resp.status == 200 && resp.body.size() > length) {
            if (offset >= resp.body.size()) return std::string();
            return resp.body.substr(size_t(offset), size_t(std::min<uint64_t>(length, resp.body.size() - offset)));
        }
        return std::move(resp.body);
    }

    std::optional<uint64_t> size(const std::string& key) const override {
        check_key(key);
        Request r;
        r.method = "HEAD";
        r.key = full(key);
        r.not_found_ok = true;
        Response resp = perform(r);
        if (resp.status == 404 || resp.content_length < 0) return std::nullopt;
        return uint64_t(resp.content_length);
    }

    void remove(const std::string& key) override {
        check_key(key);
        Request r;
        r.method = "DELETE";
        r.key = full(key);
        r.not_found_ok = true;
        perform(r);
    }

    uint64_t remove_prefix(const std::string& prefix) override {
        std::string trimmed = prefix;
        while (!trimmed.empty() && trimmed.back() == '/') trimmed.pop_back();
        check_key(trimmed);
        // Like the filesystem's remove_all: the key itself and everything "below" it, not siblings
        // that merely share the leading characters ("a.zarr" must not take "a.zarr2").
        std::vector<std::string> doomed;
        for (auto& k : list_full(full(trimmed)))
            if (k == full(trimmed) || k.rfind(full(trimmed) + "/", 0) == 0) doomed.push_back(k);
        for (size_t i = 0; i < doomed.size(); i += 1000)
            delete_batch(std::vector<std::string>(doomed.begin() + long(i),
                                                  doomed.begin() + long(std::min(doomed.size(), i + 1000))));
        return doomed.size();
    }

    std::vector<std::string> list(const std::string& prefix) const override {
        std::string trimmed = prefix;
        while (!trimmed.empty() && trimmed.back() == '/') trimmed.pop_back();
        std::string root = loc_.prefix.empty() ? "" : loc_.prefix + "/";
        std::string want = trimmed.empty() ? root : root + trimmed + "/";
        std::vector<std::string> keys;
        for (auto& k : list_full(want)) keys.push_back(k.substr(root.size()));
        std::sort(keys.begin(), keys.end());
        return keys;
    }

    std::vector<KeySize> list_sizes(const std::string& prefix) const override {
        std::string trimmed = prefix;
        while (!trimmed.empty() && trimmed.back() == '/') trimmed.pop_back();
        std::string root = loc_.prefix.empty() ? "" : loc_.prefix + "/";
        std::string want = trimmed.empty() ? root : root + trimmed + "/";
        std::vector<KeySize> out;
        std::vector<uint64_t> sizes;
        auto keys = list_full(want, &sizes);
        for (size_t i = 0; i < keys.size(); ++i) out.push_back({keys[i].substr(root.size()), sizes[i]});
        std::sort(out.begin(), out.end(), [](const KeySize& a, const KeySize& b) { return a.key < b.key; });
        return out;
    }

    // Interrupted multipart uploads are the only leftovers S3 can have (a PUT is atomic).
    uint64_t remove_temporaries() override {
        uint64_t n = 0;
        std::string root = loc_.prefix.empty() ? "" : loc_.prefix + "/";
        std::string key_marker, id_marker;
        for (;;) {
            Request r;
            r.query = {{"uploads", ""}, {"prefix", root}};
            if (!key_marker.empty()) r.query["key-marker"] = key_marker;
            if (!id_marker.empty()) r.query["upload-id-marker"] = id_marker;
            Response resp = perform(r);
            pugi::xml_document doc;
            if (!doc.load_buffer(resp.body.data(), resp.body.size())) return n;
            auto result = doc.child("ListMultipartUploadsResult");
            for (auto up : result.children("Upload")) {
                abort_upload(up.child_value("Key"), up.child_value("UploadId"));
                ++n;
            }
            std::string next_key = result.child_value("NextKeyMarker"), next_id = result.child_value("NextUploadIdMarker");
            if (std::string(result.child_value("IsTruncated")) != "true" ||
                (next_key == key_marker && next_id == id_marker))
                return n;  // done, or a server that does not advance: stop rather than loop
            key_marker = next_key;
            id_marker = next_id;
        }
    }

private:
    std::string full(const std::string& key) const { return loc_.prefix.empty() ? key : loc_.prefix + "/" + key; }

    std::string where(const std::string& full_key) const {
        return "s3://" + loc_.bucket + (full_key.empty() ? "" : "/" + full_key);
    }

    std::vector<std::string> list_full(const std::string& prefix, std::vector<uint64_t>* sizes = nullptr) const {
        std::vector<std::string> keys;
        std::string token;
        for (int page = 0;; ++page) {
            Request r;
            r.query = {{"list-type", "2"}, {"prefix", prefix}};
            if (!token.empty()) r.query["continuation-token"] = token;
            Response resp = perform(r, prefix);
            pugi::xml_document doc;
            if (!doc.load_buffer(resp.body.data(), resp.body.size()))
                throw Error(where(prefix) + ": the server's object listing is not valid XML", Error::Kind::storage);
            auto result = doc.child("ListBucketResult");
            for (auto c : result.children("Contents")) {
                keys.emplace_back(c.child_value("Key"));
                if (sizes) sizes->push_back(std::strtoull(c.child_value("Size"), nullptr, 10));
            }
            std::string truncated = result.child_value("IsTruncated");
            std::string next = result.child_value("NextContinuationToken");
            if (truncated != "true") break;
            if (next.empty() || next == token)
                throw Error(where(prefix) + ": the server's object listing is truncated without a new continuation "
                                            "token",
                            Error::Kind::storage);
            token = next;
        }
        return keys;
    }

    void delete_batch(const std::vector<std::string>& keys) {
        std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Quiet>true</Quiet>";
        for (auto& k : keys) xml += "<Object><Key>" + xml_escape(k) + "</Key></Object>";
        xml += "</Delete>";
        Request r;
        r.method = "POST";
        r.query = {{"delete", ""}};
        r.body = xml;
        r.headers.push_back("Content-MD5: " + digest(EVP_md5(), xml, false));
        r.headers.push_back("Content-Type: application/xml");
        Response resp = perform(r, keys.front());
        pugi::xml_document doc;
        if (doc.load_buffer(resp.body.data(), resp.body.size())) {
            auto err = doc.child("DeleteResult").child("Error");
            if (err)
                throw Error(where(err.child_value("Key")) + ": cannot delete: " + err.child_value("Code"),
                            Error::Kind::storage);
        }
    }

    void abort_upload(const std::string& key, const std::string& id) {
        Request r;
        r.method = "DELETE";
        r.key = key;
        r.query = {{"uploadId", id}};
        r.not_found_ok = true;
        perform(r);
    }

    void put_multipart(const std::string& key, std::string_view value) {
        Request start;
        start.method = "POST";
        start.key = key;
        start.query = {{"uploads", ""}};
        Response resp = perform(start);
        pugi::xml_document doc;
        std::string id;
        if (doc.load_buffer(resp.body.data(), resp.body.size()))
            id = doc.child("InitiateMultipartUploadResult").child_value("UploadId");
        if (id.empty())
            throw Error(where(key) + ": the server started a multipart upload without an UploadId",
                        Error::Kind::storage);
        try {
            std::string complete = "<CompleteMultipartUpload>";
            int part = 0;
            for (size_t off = 0; off < value.size(); off += s_.part_size) {
                Request up;
                up.method = "PUT";
                up.key = key;
                up.query = {{"partNumber", std::to_string(++part)}, {"uploadId", id}};
                up.body = value.substr(off, s_.part_size);
                Response pr = perform(up);
                if (pr.etag.empty())
                    throw Error(where(key) + ": part " + std::to_string(part) + " was stored without an ETag",
                                Error::Kind::storage);
                complete += "<Part><PartNumber>" + std::to_string(part) + "</PartNumber><ETag>" + xml_escape(pr.etag) +
                            "</ETag></Part>";
            }
            complete += "</CompleteMultipartUpload>";
            Request fin;
            fin.method = "POST";
            fin.key = key;
            fin.query = {{"uploadId", id}};
            fin.body = complete;
            fin.headers.push_back("Content-Type: application/xml");
            Response fr = perform(fin);
            // CompleteMultipartUpload can answer 200 and still fail, with an <Error> body.
            ErrorInfo e = parse_error(fr.body);
            if (!e.code.empty())
                throw Error(where(key) + ": completing the multipart upload failed: " + e.code, Error::Kind::storage);
        } catch (...) {
            try {
                abort_upload(key, id);
            } catch (const std::exception& e) {
                log::warn("{}: could not abort the failed multipart upload (cleanup removes it): {}", where(key),
                          e.what());
            }
            throw;
        }
    }

    CURL* acquire() const {
        {
            std::lock_guard lock(mu_);
            if (!pool_.empty()) {
                CURL* h = pool_.back();
                pool_.pop_back();
                return h;
            }
        }
        CURL* h = curl_easy_init();
        if (!h) throw Error("S3: cannot create a libcurl handle", Error::Kind::storage);
        return h;
    }

    void release(CURL* h) const {
        curl_easy_reset(h);  // keeps the handle's open connection for the next request (keep-alive)
        std::lock_guard lock(mu_);
        pool_.push_back(h);
    }

    double jitter() const {
        std::lock_guard lock(mu_);
        return std::uniform_real_distribution<double>(0.0, 1.0)(jitter_);
    }

    // One request with retries. `subject` names what the message is about when the request has
    // no key (listing a prefix).
    Response perform(const Request& r, const std::string& subject = "") const {
        std::string url = base_ + uri_encode(r.key, true);
        if (!r.query.empty()) url += "?" + canonical_query(r.query);
        const std::string what = where(r.key.empty() ? subject : r.key);
        std::string payload_hash = r.body.empty() ? kEmptySha256 : digest(EVP_sha256(), r.body, true);
        for (int attempt = 1;; ++attempt) {
            Response resp;
            Upload upload{r.body, 0};
            char errbuf[CURL_ERROR_SIZE] = {0};
            CURL* h = acquire();
            struct curl_slist* headers = nullptr;
            headers = curl_slist_append(headers, ("x-amz-content-sha256: " + payload_hash).c_str());
            if (!s_.credentials.session_token.empty())
                headers = curl_slist_append(headers, ("x-amz-security-token: " + s_.credentials.session_token).c_str());
            for (auto& hd : r.headers) headers = curl_slist_append(headers, hd.c_str());
            curl_easy_setopt(h, CURLOPT_URL, url.c_str());
            curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
            curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4_.c_str());
            curl_easy_setopt(h, CURLOPT_USERNAME, s_.credentials.access_key.c_str());
            curl_easy_setopt(h, CURLOPT_PASSWORD, s_.credentials.secret_key.c_str());
            curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
            curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
            curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, s_.connect_timeout_ms);
            curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
            curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, s_.low_speed_seconds);
            curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
            curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
            curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
            curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
            curl_easy_setopt(h, CURLOPT_HEADERDATA, &resp);
            if (r.method == "HEAD") {
                curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
            } else if (r.method == "PUT" || r.method == "POST") {
                curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
                curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
                curl_easy_setopt(h, CURLOPT_READDATA, &upload);
                curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
                curl_easy_setopt(h, CURLOPT_SEEKDATA, &upload);
                curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, curl_off_t(r.body.size()));
                if (r.method == "POST") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "POST");
            } else if (r.method != "GET") {
                curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r.method.c_str());
            }
            CURLcode rc = curl_easy_perform(h);
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
            curl_off_t len = -1;
            curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
            resp.content_length = len;
            curl_slist_free_all(headers);
            release(h);

            ErrorInfo err;
            if (rc == CURLE_OK && resp.status >= 200 && resp.status < 300) return resp;
            if (rc == CURLE_OK) {
                err = parse_error(resp.body);
                if (resp.status == 416 && r.range_ok) return resp;
                if (resp.status == 404 && r.not_found_ok && (err.code.empty() || err.code == "NoSuchKey" ||
                                                             err.code == "NoSuchUpload"))
                    return resp;
            }
            std::string problem =
                rc != CURLE_OK
                    ? std::string(curl_easy_strerror(rc)) + (errbuf[0] ? std::string(" (") + errbuf + ")" : "")
                    : std::to_string(resp.status) + " " + (err.code.empty() ? "(no error code)" : err.code);
            if (rc == CURLE_OK && !err.message.empty()) problem += ": " + err.message;
            if (rc == CURLE_OK) {
                std::string hint = hint_for(err.code);
                if (!hint.empty()) problem += " (" + hint + ")";
            }
            bool again = retryable(int(rc), rc == CURLE_OK ? resp.status : 0, err.code);
            if (!again || attempt >= s_.max_attempts) {
                std::string msg = what + ": " + r.method + " failed: " + problem;
                if (again) msg += " (gave up after " + std::to_string(attempt) + " attempts; IMX_S3_RETRIES)";
                throw Error(msg, Error::Kind::storage);
            }
            long wait = backoff_ms(attempt, jitter());
            log::warn("{}: {} failed: {}; retry {} of {} in {} ms", what, r.method, problem, attempt,
                      s_.max_attempts - 1, wait);
            std::this_thread::sleep_for(std::chrono::milliseconds(wait));
        }
    }

    std::string url_;
    Location loc_;
    Settings s_;
    std::string base_;
    std::string sigv4_;
    mutable std::mutex mu_;
    mutable std::vector<CURL*> pool_;
    mutable std::mt19937 jitter_;
};

std::optional<std::string> real_getenv(const char* name) {
    const char* v = std::getenv(name);
    if (!v) return std::nullopt;
    return std::string(v);
}

}  // namespace

std::unique_ptr<Store> open(const std::string& url) {
    Location loc = parse_url(url);
    Settings s = resolve_settings(loc, real_getenv);
    global_init();
    return std::make_unique<S3Store>(url, std::move(loc), std::move(s));
}

}  // namespace imx::s3
