// A thin RAII layer over the SQLite C API: enough for the catalog, nothing more.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace imx::sql {

class Statement;

class Database {
public:
    Database(const std::filesystem::path& file, bool read_only);
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;
    Database(Database&& o) noexcept : db_(o.db_), file_(std::move(o.file_)) { o.db_ = nullptr; }

    void exec(const std::string& sql);
    Statement prepare(const std::string& sql);
    int64_t last_insert_id() const;
    const std::filesystem::path& file() const { return file_; }
    sqlite3* handle() { return db_; }
    [[noreturn]] void fail(const std::string& what) const;

private:
    sqlite3* db_ = nullptr;
    std::filesystem::path file_;
};

class Statement {
public:
    Statement(Database& db, sqlite3_stmt* st) : db_(&db), st_(st) {}
    ~Statement();
    Statement(Statement&& o) noexcept : db_(o.db_), st_(o.st_) { o.st_ = nullptr; }
    Statement(const Statement&) = delete;

    Statement& bind(int i, int64_t v);
    Statement& bind(int i, int v) { return bind(i, int64_t(v)); }
    Statement& bind(int i, double v);
    Statement& bind(int i, std::string_view v);
    Statement& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
    Statement& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
    Statement& bind(int i, const std::optional<double>& v);
    Statement& bind_null(int i);
    // Steps once; true while a row is available.
    bool step();
    // Runs to completion and resets for reuse with new bindings.
    void run();
    void reset();

    int64_t int64(int col) const;
    int integer(int col) const { return int(int64(col)); }
    double real(int col) const;
    std::optional<double> opt_real(int col) const;
    std::string text(int col) const;
    // Valid until the next step(): for rows copied into reused strings without an allocation each.
    std::string_view text_view(int col) const;
    bool is_null(int col) const;

private:
    Database* db_;
    sqlite3_stmt* st_;
};

// BEGIN ... COMMIT, rolled back when an exception leaves the scope.
class Transaction {
public:
    explicit Transaction(Database& db);
    ~Transaction();
    void commit();

private:
    Database& db_;
    bool done_ = false;
};

}  // namespace imx::sql
