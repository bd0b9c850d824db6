#include "core/image_set.h"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace imx {

namespace {

const PlateFormat kStandardPlates[] = {{2, 3}, {4, 6}, {8, 12}, {16, 24}, {32, 48}};

}  // namespace

PlateFormat smallest_plate(int rows, int cols) {
    for (const PlateFormat& f : kStandardPlates)
        if (rows <= f.rows && cols <= f.cols) return f;
    return {};
}

PlateFormat plate_for_well_count(uint64_t wells) {
    for (const PlateFormat& f : kStandardPlates)
        if (f.rows * f.cols >= 96 && wells <= uint64_t(f.rows * f.cols)) return f;
    return {};
}

std::string iso_date_time(const std::string& text) {
    auto digits = [&](size_t at, size_t n) {
        if (at + n > text.size()) return false;
        for (size_t i = at; i < at + n; ++i)
            if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
        return true;
    };
    std::string date, rest;
    size_t at = 0;
    if (digits(0, 4) && text.size() > 10 && text[4] == '-' && digits(5, 2) && text[7] == '-' && digits(8, 2)) {
        date = text.substr(0, 10);
        at = 10;
    } else if (digits(0, 8) && text.size() > 8) {  // MetaMorph: 20200812 17:36:36.234
        date = text.substr(0, 4) + "-" + text.substr(4, 2) + "-" + text.substr(6, 2);
        at = 8;
    } else {
        return "";
    }
    if (text[at] != 'T' && text[at] != ' ') return "";
    ++at;
    if (!(digits(at, 2) && at + 8 <= text.size() && text[at + 2] == ':' && digits(at + 3, 2) && text[at + 5] == ':' &&
          digits(at + 6, 2)))
        return "";
    std::string out = date + "T" + text.substr(at, 8);
    at += 8;
    if (at < text.size() && text[at] == '.') {
        size_t end = at + 1;
        while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
        if (end == at + 1) return "";
        out += text.substr(at, end - at);
        at = end;
    }
    if (at == text.size()) return out;
    if (text.substr(at) == "Z") return out + "Z";
    if ((text[at] == '+' || text[at] == '-') && at + 6 == text.size() && digits(at + 1, 2) && text[at + 3] == ':' &&
        digits(at + 4, 2))
        return out + text.substr(at);
    return "";
}

namespace {

// Days from 1970-01-01 to the proleptic Gregorian date y-m-d (H. Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = unsigned(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + int64_t(doe) - 719468;
}

// An iso_date_time result as whole seconds since 1970 (its zone applied) and nanoseconds; `zoned`
// says whether it named a zone. False for any other text.
bool parse_iso(const std::string& text, int64_t& seconds, int64_t& nanos, bool& zoned) {
    if (iso_date_time(text) != text || text.size() < 19) return false;  // the one form iso_date_time writes
    auto num = [&](size_t at, size_t n) { return std::stoll(text.substr(at, n)); };
    const int64_t y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2), s = num(17, 2);
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return false;
    seconds = days_from_civil(y, unsigned(mo), unsigned(d)) * 86400 + h * 3600 + mi * 60 + s;
    nanos = 0;
    size_t at = 19;
    if (at < text.size() && text[at] == '.') {
        int64_t scale = 100000000;
        for (++at; at < text.size() && std::isdigit(static_cast<unsigned char>(text[at])); ++at, scale /= 10)
            nanos += (text[at] - '0') * scale;  // digits beyond the nanosecond add 0
    }
    zoned = at < text.size();
    if (zoned && text[at] != 'Z') {
        const int64_t offset = num(at + 1, 2) * 3600 + num(at + 4, 2) * 60;
        seconds -= text[at] == '+' ? offset : -offset;
    }
    return true;
}

}  // namespace

std::optional<double> seconds_between(const std::string& from, const std::string& to) {
    int64_t s0 = 0, n0 = 0, s1 = 0, n1 = 0;
    bool z0 = false, z1 = false;
    if (!parse_iso(from, s0, n0, z0) || !parse_iso(to, s1, n1, z1) || z0 != z1) return std::nullopt;
    return double(s1 - s0) + double(n1 - n0) * 1e-9;
}

std::optional<double> exposure_seconds(double value, std::string_view unit) {
    double scale = 0;
    if (unit == "s" || unit == "sec") scale = 1;
    else if (unit == "ms") scale = 1e-3;
    else if (unit == "us" || unit == "µs") scale = 1e-6;
    else if (unit == "ns") scale = 1e-9;
    else if (unit == "min") scale = 60;
    const double s = value * scale;
    if (!scale || !std::isfinite(s) || !(s > 0) || s > 86400) return std::nullopt;
    return s;
}

std::optional<double> z_step_of_stack(std::vector<std::pair<int, double>> stack) {
    if (stack.size() < 2) return std::nullopt;
    std::sort(stack.begin(), stack.end());
    const double step = std::abs(stack[1].second - stack[0].second) / std::max(1, stack[1].first - stack[0].first);
    if (!(step > 0)) return std::nullopt;
    return std::round(step * 1e4) / 1e4;
}

}  // namespace imx
