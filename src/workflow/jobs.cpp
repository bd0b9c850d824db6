#include "workflow/jobs.h"

#include "core/fileutil.h"
#include "core/types.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <map>

namespace imx {

using nlohmann::json;

namespace {

const char* kOutputColumns[] = {"id", "plate", "row", "col", "site", "t", "c", "z", "inputs [file, series, page, sample]"};

[[noreturn]] void malformed(const std::string& what) { throw Error("malformed job: " + what + "; run init again"); }

const json& member(const json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end()) malformed(std::string("no \"") + key + "\"");
    return *it;
}

template <class T> T number(const json& j, const std::string& what) {
    if (!j.is_number_integer()) malformed(what + " is not an integer");
    if (j.is_number_unsigned()) {
        const uint64_t v = j.get<uint64_t>();
        if (v > uint64_t(std::numeric_limits<T>::max())) malformed(what + " is out of range");
        return T(v);
    }
    const int64_t v = j.get<int64_t>();
    if (v < int64_t(std::numeric_limits<T>::min()) || (v > 0 && uint64_t(v) > uint64_t(std::numeric_limits<T>::max())))
        malformed(what + " is out of range");
    return T(v);
}

std::string name(const json& j, const std::string& what) {
    if (!j.is_string() && !j.is_object()) malformed(what + " is not a name");
    return name_from_json(j);
}

}  // namespace

namespace {

void append_int(std::string& out, int64_t v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, end);
}

// A file name as JSON: quoted as it is when it is printable ASCII without quotes or backslashes
// (nearly every name, no json value built for it), else name_to_json's lossless form.
void append_name(std::string& out, const std::string& name) {
    const bool plain = std::all_of(name.begin(), name.end(), [](char c) {
        return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
    });
    if (!plain) {
        out += name_to_json(name).dump();
        return;
    }
    out += '"';
    out += name;
    out += '"';
}

}  // namespace

std::string to_json_text(const RunJob& job) {
    json plates = json::object();
    for (auto& [path, layout] : job.plates) plates[path] = layout.to_json();
    const json head = {{"phase", "run"},
                       {"id", job.id},
                       {"source", name_to_json(job.source)},
                       {"source_endpoint", job.source_endpoint},
                       {"store", name_to_json(job.store)},
                       {"mip", job.mip},
                       {"plates", std::move(plates)},
                       {"output_columns", kOutputColumns}};
    std::string text = head.dump();
    text.pop_back();  // the closing brace: "outputs" follows
    text += ",\"outputs\":[";
    std::map<std::string, std::string> quoted;  // plate path -> its JSON string
    for (size_t i = 0; i < job.outputs.size(); ++i) {
        const RunOutput& o = job.outputs[i];
        if (i > 0) text += ',';
        text += '[';
        append_int(text, o.id);
        text += ',';
        auto q = quoted.find(o.plate);
        if (q == quoted.end()) q = quoted.emplace(o.plate, json(o.plate).dump()).first;
        text += q->second;
        for (int v : {o.row, o.col, o.site, o.tpoint, o.channel, o.zplane}) {
            text += ',';
            append_int(text, v);
        }
        text += ",[";
        for (size_t k = 0; k < o.inputs.size(); ++k) {
            const RunInput& in = o.inputs[k];
            text += k > 0 ? ",[" : "[";
            append_name(text, in.file);
            for (uint32_t v : {in.at.series, in.at.page, in.at.sample}) {
                text += ',';
                append_int(text, v);
            }
            text += ']';
        }
        text += "]]";
    }
    text += "]}";
    return text;
}

void to_json(json& j, const RunJob& job) { j = json::parse(to_json_text(job)); }

void from_json(const json& j, RunJob& job) {
    if (!j.is_object()) malformed("not a JSON object");
    if (member(j, "phase") != "run") malformed("\"phase\" is not \"run\"");
    job.id = number<int>(member(j, "id"), "\"id\"");
    job.source = name(member(j, "source"), "\"source\"");
    job.store = name(member(j, "store"), "\"store\"");
    const json& endpoint = j.contains("source_endpoint") ? j["source_endpoint"] : json("");
    if (!endpoint.is_string()) malformed("\"source_endpoint\" is not a string");
    job.source_endpoint = endpoint.get<std::string>();
    const json& mip = j.contains("mip") ? j["mip"] : json(false);
    if (!mip.is_boolean()) malformed("\"mip\" is not true or false");
    job.mip = mip.get<bool>();
    const json& plates = member(j, "plates");
    if (!plates.is_object()) malformed("\"plates\" is not an object");
    job.plates.clear();
    for (auto& [path, layout] : plates.items()) {
        try {
            job.plates.emplace(path, PlateLayout::from_json(layout));
        } catch (const json::exception& e) {
            malformed("plate " + path + ": " + e.what());
        }
    }
    const json& outputs = member(j, "outputs");
    if (!outputs.is_array()) malformed("\"outputs\" is not an array");
    job.outputs.clear();
    job.outputs.reserve(outputs.size());
    for (size_t i = 0; i < outputs.size(); ++i) {
        const json& o = outputs[i];
        const std::string where = "output " + std::to_string(i);
        if (!o.is_array() || o.size() != 9) malformed(where + " is not [id, plate, row, col, site, t, c, z, inputs]");
        RunOutput out;
        out.id = number<int64_t>(o[0], where + " id");
        if (!o[1].is_string()) malformed(where + " plate is not a string");
        out.plate = o[1].get<std::string>();
        if (!job.plates.count(out.plate)) malformed(where + " names plate " + out.plate + ", which the job has no layout of");
        int* fields[] = {&out.row, &out.col, &out.site, &out.tpoint, &out.channel, &out.zplane};
        for (size_t k = 0; k < 6; ++k) {
            *fields[k] = number<int>(o[2 + k], where + " " + kOutputColumns[2 + k]);
            if (*fields[k] < 0) malformed(where + " " + kOutputColumns[2 + k] + " is negative");
        }
        if (!o[8].is_array() || o[8].empty()) malformed(where + " has no inputs");
        for (const json& in : o[8]) {
            if (!in.is_array() || in.size() != 4) malformed(where + " input is not [file, series, page, sample]");
            out.inputs.push_back({name(in[0], where + " file"),
                                  {number<uint32_t>(in[1], where + " series"), number<uint32_t>(in[2], where + " page"),
                                   number<uint32_t>(in[3], where + " sample")}});
        }
        job.outputs.push_back(std::move(out));
    }
}

void to_json(json& j, const CollectJob& job) { j = {{"phase", "collect"}, {"delete", job.delete_sources}}; }

void from_json(const json& j, CollectJob& job) {
    if (!j.is_object() || member(j, "phase") != "collect") malformed("not a collect job");
    const json& del = j.contains("delete") ? j["delete"] : json(false);
    if (!del.is_boolean()) malformed("\"delete\" is not true or false");
    job.delete_sources = del.get<bool>();
}

template <class Job> Job parse_job(const std::string& text, const std::filesystem::path& file) {
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded()) throw Error(file.string() + ": not a JSON job description; run init again");
    try {
        return j.get<Job>();
    } catch (const Error& e) {
        throw Error(file.string() + ": " + e.what(), e.kind());
    }
}
template <class Job> Job read_job_file(const std::filesystem::path& file) {
    return parse_job<Job>(read_job_text(file), file);
}
std::string read_job_text(const std::filesystem::path& file) { return read_file(file, 1ull << 32); }
template RunJob parse_job<RunJob>(const std::string&, const std::filesystem::path&);
template RunJob read_job_file<RunJob>(const std::filesystem::path&);
template CollectJob read_job_file<CollectJob>(const std::filesystem::path&);

}  // namespace imx
