// The pure parts of the S3 store: URL parsing, SigV4 URI/query encoding, AWS credential files,
// error XML, retry classification. The network parts are tested against a real server in
// tests/integration/s3_store.sh.
#include <curl/curl.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <atomic>
#include <map>
#include <thread>

#include "core/types.h"
#include "storage/s3/s3_store.h"

namespace fs = std::filesystem;
using namespace imx;

namespace {

std::map<std::string, std::string> g_env;
std::optional<std::string> fake_getenv(const char* name) {
    auto it = g_env.find(name);
    if (it == g_env.end()) return std::nullopt;
    return it->second;
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

struct TempDir {
    fs::path path;
    TempDir() {
        path = fs::temp_directory_path() / ("imx_s3_" + std::to_string(::getpid()) + "_" +
                                            std::to_string(reinterpret_cast<uintptr_t>(this)));
        fs::create_directories(path);
    }
    ~TempDir() { fs::remove_all(path); }
    void write(const std::string& name, const std::string& text) const {
        fs::create_directories((path / name).parent_path());
        std::ofstream(path / name) << text;
    }
};

}  // namespace

TEST(S3Url, ParsesBucketPrefixAndParameters) {
    auto loc = s3::parse_url("s3://my-bucket/plates/2024/");
    EXPECT_EQ(loc.bucket, "my-bucket");
    EXPECT_EQ(loc.prefix, "plates/2024");
    EXPECT_EQ(loc.endpoint, "");
    EXPECT_EQ(s3::display_url(loc), "s3://my-bucket/plates/2024");

    loc = s3::parse_url("s3://bucket");
    EXPECT_EQ(loc.prefix, "");
    loc = s3::parse_url("s3://bucket.example/p?endpoint=http%3A%2F%2F127.0.0.1%3A17480&addressing=virtual");
    EXPECT_EQ(loc.bucket, "bucket.example");
    EXPECT_EQ(loc.endpoint, "http://127.0.0.1:17480");
    EXPECT_EQ(loc.addressing, "virtual");
}

TEST(S3Url, RejectsMalformedAndCredentials) {
    EXPECT_NE(error_of([] { s3::parse_url("s3://AB/x"); }).find("not a valid bucket name"), std::string::npos);
    EXPECT_NE(error_of([] { s3::parse_url("s3://ab"); }).find("not a valid bucket name"), std::string::npos);
    EXPECT_NE(error_of([] { s3::parse_url("s3://-bucket"); }).find("not a valid bucket name"), std::string::npos);
    std::string cred = error_of([] { s3::parse_url("s3://AKIAXX:topsecret@bucket/p"); });
    EXPECT_NE(cred.find("must not contain credentials"), std::string::npos);
    EXPECT_EQ(cred.find("topsecret"), std::string::npos) << "the secret must not be echoed";
    EXPECT_NE(error_of([] { s3::parse_url("s3://bucket/a/../b"); }), "");
    EXPECT_NE(error_of([] { s3::parse_url("s3://bucket/p?endpoint=ftp://x"); }).find("http://"), std::string::npos);
    EXPECT_NE(error_of([] { s3::parse_url("s3://bucket/p?endpoint=http://u:pw@host"); }).find("without path"),
              std::string::npos);
    EXPECT_NE(error_of([] { s3::parse_url("s3://bucket/p?addressing=dns"); }).find("'path' or 'virtual'"),
              std::string::npos);
    EXPECT_NE(error_of([] { s3::parse_url("s3://bucket/p?secret=x"); }).find("unknown store URL parameter"),
              std::string::npos);
    EXPECT_NE(error_of([] { s3::parse_url("s3://bucket/p?endpoint=%zz"); }).find("bad %-escape"),
              std::string::npos);
    EXPECT_NE(error_of([] { s3::parse_url("s3://bucket/p?endpoint=%4"); }).find("bad %-escape"), std::string::npos);
}

TEST(S3Url, WithEndpointAndDescribeKey) {
    std::string u = s3::with_endpoint("s3://bucket/pre", "http://127.0.0.1:9000/");
    EXPECT_EQ(s3::parse_url(u).endpoint, "http://127.0.0.1:9000");
    EXPECT_NE(error_of([&] { s3::with_endpoint(u, "http://x"); }).find("names an endpoint already"),
              std::string::npos);
    EXPECT_NE(error_of([] { s3::with_endpoint("/data/plates", "http://x"); }).find("needs an s3://"),
              std::string::npos);
    EXPECT_EQ(s3::describe_key(u, "p.zarr"), "s3://bucket/pre/p.zarr");
    EXPECT_EQ(s3::describe_key("/data/plates", "p.zarr"), "/data/plates/p.zarr");
    EXPECT_EQ(s3::describe_key("/data/plates/", "p.zarr"), "/data/plates/p.zarr");
}

TEST(S3Signing, UriEncodingFollowsSigV4) {
    EXPECT_EQ(s3::uri_encode("a.zarr/B/03/0/.zattrs", true), "a.zarr/B/03/0/.zattrs");
    EXPECT_EQ(s3::uri_encode("a b+c/d~e_f", true), "a%20b%2Bc/d~e_f");
    EXPECT_EQ(s3::uri_encode("dir/", false), "dir%2F");
    EXPECT_EQ(s3::uri_encode("\xc3\xa9=*", false), "%C3%A9%3D%2A");
}

TEST(S3Signing, CanonicalQueryIsSortedAndEncoded) {
    EXPECT_EQ(s3::canonical_query({{"prefix", "plate.zarr/"}, {"list-type", "2"}, {"continuation-token", "a+b/="}}),
              "continuation-token=a%2Bb%2F%3D&list-type=2&prefix=plate.zarr%2F");
    EXPECT_EQ(s3::canonical_query({{"uploads", ""}}), "uploads=");
    EXPECT_EQ(s3::canonical_query({{"uploadId", "x y"}, {"partNumber", "10"}}), "partNumber=10&uploadId=x%20y");
}

TEST(S3Credentials, IniParsing) {
    auto ini = s3::parse_ini(
        "# comment\n[default]\naws_access_key_id = AKIA1\r\n AWS_Secret_Access_Key=s1 \n; other\n"
        "[profile lab]\nregion = eu-central-1\nbroken line\n[unterminated\nx = 1\n");
    EXPECT_EQ(ini["default"]["aws_access_key_id"], "AKIA1");
    EXPECT_EQ(ini["default"]["aws_secret_access_key"], "s1");
    EXPECT_EQ(ini["profile lab"]["region"], "eu-central-1");
    EXPECT_EQ(ini["profile lab"].count("broken line"), 0u);
    EXPECT_TRUE(s3::parse_ini("").empty());
    EXPECT_TRUE(s3::parse_ini("key = value without section\n").empty());
}

TEST(S3Credentials, EnvironmentWinsThenProfileFiles) {
    TempDir home;
    home.write(".aws/credentials", "[default]\naws_access_key_id=FILEKEY\naws_secret_access_key=FILESECRET\n"
                                   "[lab]\naws_access_key_id=LABKEY\naws_secret_access_key=LABSECRET\n"
                                   "aws_session_token=LABTOKEN\n");
    home.write(".aws/config", "[default]\nregion=eu-west-1\n[profile lab]\nregion=ap-south-1\n");
    auto loc = s3::parse_url("s3://bucket/p");

    g_env = {{"HOME", home.path.string()}, {"AWS_ACCESS_KEY_ID", "ENVKEY"}, {"AWS_SECRET_ACCESS_KEY", "ENVSECRET"},
             {"AWS_REGION", "us-west-2"}};
    auto s = s3::resolve_settings(loc, fake_getenv);
    EXPECT_EQ(s.credentials.access_key, "ENVKEY");
    EXPECT_EQ(s.credentials.secret_key, "ENVSECRET");
    EXPECT_EQ(s.region, "us-west-2");
    EXPECT_EQ(s.endpoint, "https://s3.us-west-2.amazonaws.com");
    EXPECT_FALSE(s.virtual_hosted);

    g_env = {{"HOME", home.path.string()}};
    s = s3::resolve_settings(loc, fake_getenv);
    EXPECT_EQ(s.credentials.access_key, "FILEKEY");
    EXPECT_EQ(s.region, "eu-west-1");

    g_env = {{"HOME", home.path.string()}, {"AWS_PROFILE", "lab"}, {"AWS_ENDPOINT_URL", "http://127.0.0.1:9/"},
             {"IMX_S3_ADDRESSING", "virtual"}};
    s = s3::resolve_settings(loc, fake_getenv);
    EXPECT_EQ(s.credentials.access_key, "LABKEY");
    EXPECT_EQ(s.credentials.session_token, "LABTOKEN");
    EXPECT_EQ(s.region, "ap-south-1");
    EXPECT_EQ(s.endpoint, "http://127.0.0.1:9");
    EXPECT_TRUE(s.virtual_hosted);

    // The URL's endpoint beats the environment's.
    s = s3::resolve_settings(s3::parse_url("s3://bucket/p?endpoint=http://h:1"), fake_getenv);
    EXPECT_EQ(s.endpoint, "http://h:1");
}

TEST(S3Credentials, MissingOrBadSettingsAreClear) {
    TempDir home;
    auto loc = s3::parse_url("s3://bucket/p");
    g_env = {{"HOME", home.path.string()}};
    EXPECT_NE(error_of([&] { s3::resolve_settings(loc, fake_getenv); }).find("no S3 credentials"), std::string::npos);
    g_env = {{"HOME", home.path.string()}, {"AWS_PROFILE", "nosuch"}};
    EXPECT_NE(error_of([&] { s3::resolve_settings(loc, fake_getenv); }).find("AWS_PROFILE 'nosuch'"),
              std::string::npos);
    g_env = {{"AWS_ACCESS_KEY_ID", "K"}, {"AWS_SECRET_ACCESS_KEY", "S"}, {"IMX_S3_RETRIES", "lots"}};
    EXPECT_NE(error_of([&] { s3::resolve_settings(loc, fake_getenv); }).find("IMX_S3_RETRIES"), std::string::npos);
    g_env = {{"AWS_ACCESS_KEY_ID", "K"}, {"AWS_SECRET_ACCESS_KEY", "S"}, {"IMX_S3_MULTIPART_THRESHOLD", "1000"}};
    EXPECT_NE(error_of([&] { s3::resolve_settings(loc, fake_getenv); }).find("IMX_S3_MULTIPART_THRESHOLD"),
              std::string::npos);
    g_env = {{"AWS_ACCESS_KEY_ID", "K"}, {"AWS_SECRET_ACCESS_KEY", "S"}, {"IMX_S3_RETRIES", "2"}};
    EXPECT_EQ(s3::resolve_settings(loc, fake_getenv).max_attempts, 3);
    g_env.clear();
}

TEST(S3Errors, ParsesErrorDocuments) {
    auto e = s3::parse_error(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SignatureDoesNotMatch</Code>"
        "<Message>The request signature\nwe calculated does not match</Message><RequestId>x</RequestId></Error>");
    EXPECT_EQ(e.code, "SignatureDoesNotMatch");
    EXPECT_EQ(e.message, "The request signature we calculated does not match");
    EXPECT_EQ(s3::parse_error("").code, "");
    EXPECT_EQ(s3::parse_error("<html>502 Bad Gateway</html>").code, "");
    EXPECT_EQ(s3::parse_error("<Error><Code>NoSuchKey").code, "");  // truncated: not trusted
    EXPECT_EQ(s3::parse_error(std::string("<Error><Code>X</Code><Message>") + std::string(500, 'm') +
                              "</Message></Error>")
                  .message.size(),
              203u);
    EXPECT_EQ(s3::hint_for("SignatureDoesNotMatch"), "check AWS_SECRET_ACCESS_KEY");
    EXPECT_EQ(s3::hint_for("InvalidAccessKeyId"), "check AWS_ACCESS_KEY_ID");
    EXPECT_EQ(s3::hint_for("Whatever"), "");
}

TEST(S3Retry, ClassifiesTransientAndPermanentFailures) {
    EXPECT_TRUE(s3::retryable(CURLE_COULDNT_CONNECT, 0, ""));
    EXPECT_TRUE(s3::retryable(CURLE_OPERATION_TIMEDOUT, 0, ""));
    EXPECT_TRUE(s3::retryable(CURLE_RECV_ERROR, 0, ""));  // connection reset
    EXPECT_TRUE(s3::retryable(CURLE_GOT_NOTHING, 0, ""));
    EXPECT_FALSE(s3::retryable(CURLE_URL_MALFORMAT, 0, ""));
    EXPECT_FALSE(s3::retryable(CURLE_PEER_FAILED_VERIFICATION, 0, ""));
    EXPECT_TRUE(s3::retryable(CURLE_OK, 503, "SlowDown"));
    EXPECT_TRUE(s3::retryable(CURLE_OK, 500, "InternalError"));
    EXPECT_TRUE(s3::retryable(CURLE_OK, 502, ""));
    EXPECT_TRUE(s3::retryable(CURLE_OK, 429, ""));
    EXPECT_TRUE(s3::retryable(CURLE_OK, 400, "RequestTimeout"));
    EXPECT_FALSE(s3::retryable(CURLE_OK, 403, "SignatureDoesNotMatch"));
    EXPECT_FALSE(s3::retryable(CURLE_OK, 403, "InvalidAccessKeyId"));
    EXPECT_FALSE(s3::retryable(CURLE_OK, 404, "NoSuchBucket"));
    EXPECT_FALSE(s3::retryable(CURLE_OK, 400, "InvalidArgument"));
}

TEST(S3Retry, BackoffGrowsIsCappedAndJittered) {
    EXPECT_EQ(s3::backoff_ms(1, 0.0), 100);
    EXPECT_EQ(s3::backoff_ms(1, 1.0), 200);
    EXPECT_EQ(s3::backoff_ms(2, 0.0), 200);
    EXPECT_EQ(s3::backoff_ms(3, 1.0), 800);
    EXPECT_EQ(s3::backoff_ms(20, 1.0), 5000);
    EXPECT_EQ(s3::backoff_ms(20, 0.0), 2500);
    EXPECT_EQ(s3::backoff_ms(1000, 0.5), 3750);  // no overflow
    for (int a = 1; a < 30; ++a) {
        EXPECT_GE(s3::backoff_ms(a, 0.3), 100);
        EXPECT_LE(s3::backoff_ms(a, 0.3), 5000);
    }
}

// Against a live server: run by tests/integration/s3_store.sh with IMX_S3_TEST_URL set (and the
// AWS_* credentials in the environment); skipped otherwise.
class S3Live : public ::testing::Test {
protected:
    void SetUp() override {
        const char* url = std::getenv("IMX_S3_TEST_URL");
        if (!url || !*url) GTEST_SKIP() << "IMX_S3_TEST_URL is not set (tests/integration/s3_store.sh sets it)";
        store = open_store(url);
    }
    std::unique_ptr<Store> store;
};

namespace {
std::string pseudo_random_bytes(size_t n, uint64_t seed) {
    std::string s(n, '\0');
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s[i] = char(x >> 24);
    }
    return s;
}
}  // namespace

TEST_F(S3Live, MultipartUploadRoundTrips) {
    // Above the 8 MiB threshold: three parts of 8, 8 and 1 MiB + 3 bytes.
    std::string big = pseudo_random_bytes((17u << 20) + 3, 1);
    store->put("multi/big.bin", big);
    EXPECT_EQ(store->size("multi/big.bin"), std::optional<uint64_t>(big.size()));
    auto back = store->get("multi/big.bin");
    ASSERT_TRUE(back.has_value());
    EXPECT_TRUE(*back == big) << "multipart object differs after the round trip";
    EXPECT_EQ(store->remove_temporaries(), 0u) << "no unfinished multipart upload may be left";
    store->remove("multi/big.bin");
    EXPECT_FALSE(store->get("multi/big.bin").has_value());
}

TEST_F(S3Live, ParallelPutsListAndPrefixDelete) {
    // More keys than one ListObjectsV2 page (1000), written from 8 threads through the shared pool.
    const int n = 1100;
    std::vector<std::thread> threads;
    std::atomic<int> next{0};
    std::atomic<int> failures{0};
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&] {
            for (int i = next++; i < n; i = next++) {
                try {
                    store->put("par/k" + std::to_string(10000 + i), pseudo_random_bytes(100 + size_t(i), uint64_t(i)));
                } catch (const std::exception&) {
                    ++failures;
                }
            }
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(failures.load(), 0);
    store->put("par2/sibling", "must survive remove_prefix(\"par\")");
    auto keys = store->list("par");
    ASSERT_EQ(keys.size(), size_t(n));
    EXPECT_EQ(keys.front(), "par/k10000");
    EXPECT_EQ(keys.back(), "par/k" + std::to_string(10000 + n - 1));
    EXPECT_EQ(store->get("par/k10007"), pseudo_random_bytes(107, 7));
    EXPECT_EQ(store->size("par/k10010"), std::optional<uint64_t>(110));
    EXPECT_EQ(store->remove_prefix("par/"), uint64_t(n));
    EXPECT_TRUE(store->list("par").empty());
    EXPECT_EQ(store->get("par2/sibling"), std::optional<std::string>("must survive remove_prefix(\"par\")"));
    store->remove("par2/sibling");
    EXPECT_FALSE(store->exists("par2/sibling"));
    EXPECT_FALSE(store->get("never/written").has_value());
    EXPECT_FALSE(store->size("never/written").has_value());
}

TEST_F(S3Live, KeysWithSpecialCharacters) {
    std::string key = "odd name/with+plus=eq&amp~tilde";
    store->put(key, "x");
    EXPECT_EQ(store->get(key), std::optional<std::string>("x"));
    auto keys = store->list("odd name");
    ASSERT_EQ(keys.size(), 1u);
    EXPECT_EQ(keys[0], key);
    EXPECT_EQ(store->remove_prefix("odd name"), 1u);
}
