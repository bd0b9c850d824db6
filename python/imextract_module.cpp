// The Python module `imextract`: the library's ExperimentReader as imextract.Experiment, planes
// returned as numpy arrays that own the buffer the plane was decoded into (no copy).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <mutex>

#include "workflow/workflow.h"

namespace py = pybind11;
using namespace imx;

namespace {

// The module's exception types, one per Error::Kind (created in PYBIND11_MODULE, alive as long as
// the module: plain references, so nothing is released after the interpreter is gone).
struct ExceptionTypes {
    PyObject *base = nullptr, *usage = nullptr, *input = nullptr, *storage = nullptr, *verification = nullptr,
             *not_extracted = nullptr;
};
ExceptionTypes exceptions;

PyObject* exception_for(Error::Kind kind) {
    switch (kind) {
    case Error::Kind::usage: return exceptions.usage;
    case Error::Kind::input: return exceptions.input;
    case Error::Kind::storage: return exceptions.storage;
    case Error::Kind::verification: return exceptions.verification;
    case Error::Kind::not_extracted: return exceptions.not_extracted;
    case Error::Kind::generic: break;
    }
    return exceptions.base;
}

PyObject* new_exception(py::module_& m, const char* name, const char* doc, std::vector<PyObject*> bases) {
    py::tuple base_tuple(bases.size());
    for (size_t i = 0; i < bases.size(); ++i) base_tuple[i] = py::handle(bases[i]);
    const std::string qualified = std::string("imextract.") + name;
    PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, base_tuple.ptr(), nullptr);
    if (!type) throw py::error_already_set();
    m.add_object(name, py::handle(type));  // the module holds a reference of its own
    return type;
}

py::dtype numpy_dtype(DType t) {
    switch (t) {
    case DType::u8: return py::dtype::of<uint8_t>();
    case DType::u16: return py::dtype::of<uint16_t>();
    case DType::u32: return py::dtype::of<uint32_t>();
    case DType::i8: return py::dtype::of<int8_t>();
    case DType::i16: return py::dtype::of<int16_t>();
    case DType::i32: return py::dtype::of<int32_t>();
    case DType::f32: return py::dtype::of<float>();
    }
    throw Error("unknown pixel type");
}

// The plane's buffer becomes the array's: the capsule frees the Plane when numpy drops the array.
py::array to_array(Plane&& plane) {
    auto* owner = new Plane(std::move(plane));
    py::capsule free_plane(owner, [](void* p) { delete static_cast<Plane*>(p); });
    const auto item = py::ssize_t(dtype_size(owner->dtype));
    return py::array(numpy_dtype(owner->dtype), {py::ssize_t(owner->height), py::ssize_t(owner->width)},
                     {item * py::ssize_t(owner->width), item}, owner->data.data(), free_plane);
}

// A channel given as an index (int) or a name (str), as get's --channel takes it.
std::string channel_text(const py::object& channel) {
    if (py::isinstance<py::bool_>(channel) || !(py::isinstance<py::int_>(channel) || py::isinstance<py::str>(channel)))
        throw py::type_error("channel must be an index (int) or a channel name (str), not " +
                             std::string(py::str(py::type::of(channel).attr("__name__"))));
    return py::str(channel);
}

struct VerifyReport {
    VerifyResult result;
    std::string summary() const {
        std::string s = std::to_string(result.ok) + " of " + std::to_string(result.planes) +
                        (result.decoded_only ? " stored plane(s) read back and decoded (a plate without its workspace: "
                                               "the checksums are not in the plate, so not compared)"
                                             : " stored plane(s) match their checksums");
        if (result.sources_compared || result.sources_skipped)
            s += "; " + std::to_string(result.sources_compared) + " compared with their source files, " +
                 std::to_string(result.sources_skipped) + " not (sources deleted or missing)";
        return s;
    }
};

class Experiment {
    // ExperimentReader serves one thread at a time (its catalog connection, its opened plates).
    template <class F> auto locked(F&& f) {
        py::gil_scoped_release release;
        std::lock_guard<std::mutex> lock(mutex_);
        return f();
    }

public:
    Experiment(const std::string& path, std::optional<std::string> plate)
        : reader_(fs::path(path)), plate_(plate.value_or(reader_.named_plate())) {
        if (!plate_.empty()) reader_.layout(plate_);  // an unknown plate is refused here, not at the first get
    }

    std::string path() const { return reader_.path(); }
    bool bare() const { return reader_.bare(); }
    std::vector<std::string> plates() const { return reader_.plate_names(); }
    std::vector<std::string> channels() const { return reader_.channel_names(); }
    std::vector<std::string> wells() {
        std::vector<std::string> names;
        for (const WellSites& w : locked([&] { return reader_.wells(plate_); })) names.push_back(well_name(w.row, w.col));
        return names;
    }
    std::vector<int> sites(const std::string& well, std::optional<std::string> plate) {
        const int count = locked([&] { return reader_.site_count(plate.value_or(plate_), well); });
        std::vector<int> indices;
        for (int i = 0; i < count; ++i) indices.push_back(i);
        return indices;
    }
    PlateLayout layout() { return locked([&] { return reader_.layout(plate_); }); }

    py::array get(const std::string& well, const py::object& channel, int site, int tpoint, int zplane, int level,
                  std::optional<std::string> plate, std::optional<std::array<int64_t, 4>> region) {
        PlaneQuery q{plate.value_or(plate_), well, site, channel_text(channel), tpoint, zplane, level, std::nullopt};
        if (region) {
            // The CLI's parser, so that a bad rectangle gets the same message as get --region.
            const auto& r = *region;
            q.region = parse_region(std::to_string(r[0]) + "," + std::to_string(r[1]) + "," + std::to_string(r[2]) +
                                    "," + std::to_string(r[3]));
        }
        Plane plane;
        {
            py::gil_scoped_release release;  // other Python threads run while the store is read
            std::lock_guard<std::mutex> lock(mutex_);
            plane = reader_.get(q);
        }
        return to_array(std::move(plane));
    }

    VerifyReport verify(bool sources, int threads) {
        VerifyReport report;
        {
            py::gil_scoped_release release;
            std::lock_guard<std::mutex> lock(mutex_);
            report.result = reader_.verify({sources, threads});
        }
        if (report.result.problems.empty()) return report;
        std::string message = "verify: " + report.summary() + "; " +
                              std::to_string(report.result.problems.size()) + " problem(s):";
        for (const std::string& p : report.result.problems) message += "\n  " + p;
        py::object error = py::reinterpret_borrow<py::object>(exceptions.verification)(message);
        error.attr("problems") = report.result.problems;
        error.attr("result") = py::cast(report);
        PyErr_SetObject(exceptions.verification, error.ptr());
        throw py::error_already_set();
    }

private:
    ExperimentReader reader_;
    std::string plate_;  // the plate get and the listings use unless told another
    std::mutex mutex_;
};

}  // namespace

PYBIND11_MODULE(imextract, m) {
    m.doc() = R"doc(Planes of an experiment extracted by imextract, as numpy arrays.

    import imextract
    e = imextract.Experiment("/data/exp1")    # the experiment folder (its plate local or in S3)
    e.wells, e.channels, e.sites("B03"), e.shape
    plane = e.get("B03", site=0, channel="DAPI")   # or channel=0; level=1: the next pyramid level

Errors raise imextract.Error subclasses with the messages of the imextract command line.)doc";
    m.attr("__version__") = IMX_VERSION;

    exceptions.base = new_exception(m, "Error", "An imextract error; the message names what and why.", {PyExc_Exception});
    exceptions.usage = new_exception(m, "UsageError",
                                     "A wrong request: no such plate, well, site, channel, tpoint, zplane or level "
                                     "(the message lists what exists).",
                                     {exceptions.base, PyExc_ValueError});
    exceptions.input = new_exception(m, "InputError", "Microscope files or metadata missing or invalid.", {exceptions.base});
    exceptions.storage = new_exception(m, "StorageError", "The store or the experiment folder cannot be read.",
                                       {exceptions.base, PyExc_OSError});
    exceptions.verification = new_exception(
        m, "VerificationError",
        "Stored planes missing or not matching their checksums: .problems lists them, .result has the counts.",
        {exceptions.base});
    exceptions.not_extracted = new_exception(m, "NotExtractedError",
                                             "The plane has not been extracted yet (run `imextract EXP submit`).",
                                             {exceptions.base});
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const Error& e) {
            PyErr_SetString(exception_for(e.kind()), e.what());
        } catch (const fs::filesystem_error& e) {
            // As the command line reports it: the path and the OS reason.
            const std::string message = e.path1().string() + ": " + e.code().message() + " (" + e.what() + ")";
            PyErr_SetString(exceptions.storage, message.c_str());
        }
    });

    py::class_<VerifyReport>(m, "VerifyResult", "What Experiment.verify() found.")
        .def_property_readonly("planes", [](const VerifyReport& r) { return r.result.planes; }, "stored planes read back")
        .def_property_readonly("ok", [](const VerifyReport& r) { return r.result.ok; }, "planes matching their checksum")
        .def_property_readonly("sources_compared", [](const VerifyReport& r) { return r.result.sources_compared; },
                               "planes compared with their source files (sources=True)")
        .def_property_readonly("sources_skipped", [](const VerifyReport& r) { return r.result.sources_skipped; },
                               "planes whose source files are gone (sources=True)")
        .def_property_readonly("missing_in_source", [](const VerifyReport& r) { return r.result.missing_in_source; },
                               "planes whose pixels the source files do not hold")
        .def_property_readonly("absent", [](const VerifyReport& r) { return r.result.absent; },
                               "array positions no source plane fills (they read as 0)")
        .def_property_readonly("problems", [](const VerifyReport& r) { return r.result.problems; },
                               "one line per plane that failed")
        .def_property_readonly("decoded_only", [](const VerifyReport& r) { return r.result.decoded_only; },
                               "planes read back and decoded without a checksum to compare with (a plate without "
                               "its workspace: the checksums are in the workspace)")
        .def("__repr__", [](const VerifyReport& r) { return "<imextract.VerifyResult: " + r.summary() + ">"; });

    py::class_<Experiment>(m, "Experiment", R"doc(An experiment folder that imextract extracted (create, init, submit),
a folder `convert` wrote, or a plate imextract wrote (NAME.zarr, local or s3://), also without its
workspace (copied elsewhere): then everything is read from the plate's own metadata.

Experiment(path, plate=None): `plate` names the plate the listings and get use when the experiment
holds several (e.plates lists them). Threads may share one: get releases the GIL while it reads,
and calls on one Experiment take turns.)doc")
        .def(py::init<const std::string&, std::optional<std::string>>(), py::arg("path"), py::arg("plate") = py::none())
        .def_property_readonly("path", &Experiment::path, "The experiment folder (or the plate, read without its workspace).")
        .def_property_readonly("bare", &Experiment::bare,
                               "True for a plate read without its workspace: everything comes from the plate's metadata.")
        .def_property_readonly("plates", &Experiment::plates, "Names of the experiment's plates.")
        .def_property_readonly("wells", &Experiment::wells, "The plate's wells that hold images, like ['B02', 'B03'].")
        .def_property_readonly("channels", &Experiment::channels, "Channel names; get takes a name or its index.")
        .def("sites", &Experiment::sites, py::arg("well"), py::arg("plate") = py::none(),
             "The field (site) indices of a well, like [0, 1, 2].")
        .def_property_readonly("shape", [](Experiment& e) {
            const PlateLayout L = e.layout();
            return py::make_tuple(L.tpoints, L.image_channels(), L.zplanes, L.height, L.width);
        }, "(t, c, z, y, x) of each field image at full resolution; get returns (y, x) planes.")
        .def_property_readonly("dtype", [](Experiment& e) { return numpy_dtype(e.layout().dtype); },
                               "The stored pixel type (a numpy.dtype).")
        .def_property_readonly("levels", [](Experiment& e) { return e.layout().levels; },
                               "Resolution levels: 0 is full resolution, each next one half the size.")
        .def("get", &Experiment::get, py::arg("well"), py::kw_only(), py::arg("channel"), py::arg("site") = 0,
             py::arg("tpoint") = 0, py::arg("zplane") = 0, py::arg("level") = 0, py::arg("plate") = py::none(),
             py::arg("region") = py::none(),
             R"doc(One stored plane as a 2-D numpy array (y, x) of the stored dtype.

well: like "B03"; channel: an index (0, 1, ...) or a channel name; site, tpoint, zplane: 0-based;
level: pyramid level (0 = full resolution); region=(y, x, h, w): only that rectangle of the level,
reading only the chunks that cover it. Raises UsageError naming what does not exist (and listing
what does), NotExtractedError when the plane has not been stored yet.)doc")
        .def("verify", &Experiment::verify, py::kw_only(), py::arg("sources") = false, py::arg("threads") = 0,
             R"doc(Reads every stored plane back and checks its checksum (sources=True: also against the
microscope files still present), as `imextract EXP verify`. Returns a VerifyResult; raises
VerificationError (.problems, .result) when any plane is missing or differs.)doc")
        .def("__repr__", [](Experiment& e) {
            auto joined = [](const std::vector<std::string>& names) {
                std::string out;
                for (auto& n : names) out += (out.empty() ? "" : ", ") + n;
                return out;
            };
            return "<imextract.Experiment '" + e.path() + "': plates " + joined(e.plates()) + "; channels " +
                   joined(e.channels()) + ">";
        });
}
