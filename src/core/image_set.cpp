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

std::optional<double> z_step_of_stack(std::vector<std::pair<int, double>> stack) {
    if (stack.size() < 2) return std::nullopt;
    std::sort(stack.begin(), stack.end());
    const double step = std::abs(stack[1].second - stack[0].second) / std::max(1, stack[1].first - stack[0].first);
    if (!(step > 0)) return std::nullopt;
    return std::round(step * 1e4) / 1e4;
}

}  // namespace imx
