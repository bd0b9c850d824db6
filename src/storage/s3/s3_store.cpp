// S3 backend of Store over libcurl (CURLOPT_AWS_SIGV4). See s3_store.h for the URL form and where
// settings come from. Gotchas met with real servers (Ceph radosgw):
// - libcurl signs x-amz-content-sha256 but does not add it: we always send it.
// - libcurl signs the query string exactly as written: we sort and encode it (canonical_query).
#include "storage/s3/s3_store.h"

#include <curl/curl.h>
#include <strings.h>
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

}  // namespace

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
    if (colon != std::string_view::npos && colon == 4 && ::strncasecmp(line.data(), "etag", 4) == 0)
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
