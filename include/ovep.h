/*
 * ovep: an ONNX Runtime plugin execution provider that runs ONNX models on OpenVINO.
 *
 * C/C++ hosts do not call ovep directly: they register the library with ONNX Runtime
 * (>= 1.23) and select its devices, e.g. with the C++ API:
 *
 *   Ort::Env env;
 *   env.RegisterExecutionProviderLibrary("ovep", ORT_TSTR("/path/to/libovep.so"));
 *   std::vector<Ort::ConstEpDevice> devices;
 *   for (auto d : env.GetEpDevices())
 *     if (std::string(d.EpName()) == OVEP_EP_NAME) devices.push_back(d);
 *   Ort::SessionOptions so;
 *   std::unordered_map<std::string, std::string> options{{OVEP_OPTION_PRECISION, "f32"}};
 *   so.AppendExecutionProvider_V2(env, devices, options);
 *   Ort::Session session(env, ORT_TSTR("model.onnx"), so);
 *
 * Options given that way reach ovep as session config entries "ep.ovepexecutionprovider.<key>".
 * An unknown key fails session creation with a message listing the valid keys; a bad value
 * names the key and the allowed values.
 */
#ifndef OVEP_H
#define OVEP_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The execution provider's name, as ONNX Runtime reports it. */
#define OVEP_EP_NAME "OvepExecutionProvider"
/* Prefix of ovep's session config entries (the lower-cased EP name). */
#define OVEP_CONFIG_PREFIX "ep.ovepexecutionprovider."

/* OpenVINO device: CPU, GPU, GPU.<n>, NPU, AUTO:<devices>, HETERO:<devices>, MULTI:<devices>.
 * Default: the device of the OrtEpDevice the session selected. */
#define OVEP_OPTION_DEVICE_TYPE "device_type"
/* Inference precision: f32 (default), bf16, f16, auto (the device's own default). */
#define OVEP_OPTION_PRECISION "precision"
/* OpenVINO performance hint: LATENCY (default) or THROUGHPUT. */
#define OVEP_OPTION_PERFORMANCE_HINT "performance_hint"
/* OpenVINO inference threads (integer >= 0); 0 (default) leaves OpenVINO's default. */
#define OVEP_OPTION_NUM_THREADS "num_threads"
/* Smallest group of nodes handed to OpenVINO (integer >= 1, default 2; 1 offers every supported node,
 * even groups that only compute elementwise between nodes left to ORT). */
#define OVEP_OPTION_MIN_SUBGRAPH_NODES "min_subgraph_nodes"
/* Shapes whose shape-specialized compiled models are kept per subgraph for dynamic inputs (integer >= 1,
 * default 8). */
#define OVEP_OPTION_MAX_CACHED_SHAPES "max_cached_shapes"
/* OpenVINO CPU executors kept for node shapes no longer in use, per compiled model (integer >= 0,
 * OpenVINO's CPU_RUNTIME_CACHE_CAPACITY). Unset: 128, grown to 1024 for a subgraph whose input shapes
 * recur (RSS within 1.3x over 100 new input shapes, and recurring shapes keep their kernels). A number
 * fixes the size: 1024 makes new shapes ~1.6x faster (PP-OCRv4 rec) at ~2x RSS. */
#define OVEP_OPTION_CPU_KERNEL_CACHE "cpu_kernel_cache"
/* Path to libopenvino_c.so (or its directory) when OpenVINO is not found automatically. */
#define OVEP_OPTION_OPENVINO_LIBRARY "openvino_library"
/* "measured" (default): a small subgraph that ORT's CPU kernels run clearly faster, timed on the
 * session's own runs, is computed by them; "openvino": every claimed subgraph runs on OpenVINO. */
#define OVEP_OPTION_PLACEMENT "placement"

/* Compiled-model cache directory; "" turns the cache off. Default: $OVEP_CACHE_DIR, else
 * $XDG_CACHE_HOME/ovep, else ~/.cache/ovep. */
#define OVEP_OPTION_CACHE_DIR "cache_dir"
/* Size cap of the compiled-model cache in bytes (integer >= 1, default 8 GiB); least recently used
 * entries are evicted first. */
#define OVEP_OPTION_CACHE_MAX_BYTES "cache_max_bytes"

/* Environment variables ovep reads. */
#define OVEP_ENV_OPENVINO_LIBRARY "OVEP_OPENVINO_LIBRARY" /* same as the openvino_library option */
#define OVEP_ENV_CACHE_DIR "OVEP_CACHE_DIR"               /* same as the cache_dir option */

/* Opaque ONNX Runtime types (declared fully in onnxruntime_c_api.h). */
struct OrtApiBase;
struct OrtLogger;
struct OrtEpFactory;
struct OrtStatus;

/*
 * The two functions ONNX Runtime calls after loading the library. CreateEpFactories creates
 * one factory; ReleaseEpFactory releases it. Neither ever lets an error escape other than as a
 * returned OrtStatus (NULL on success).
 */
struct OrtStatus* CreateEpFactories(const char* registration_name, const struct OrtApiBase* ort_api_base,
                                    const struct OrtLogger* default_logger, struct OrtEpFactory** factories,
                                    size_t max_factories, size_t* num_factories);
struct OrtStatus* ReleaseEpFactory(struct OrtEpFactory* factory);

/*
 * Fast start: pass the original model path and start at EPContext-load speed, with no files to
 * manage. ovep keeps one EPContext model per model file under the cache directory, keyed by the
 * model's bytes (and external-data files), the OpenVINO build, the device and its full name,
 * `options_key` and ovep's version; a changed model is simply another key.
 *
 *   char path[4096];
 *   int r = ovep_fast_start_path("model.onnx", "CPU", "precision=f32", NULL, path, sizeof path);
 *   if (r == OVEP_FAST_START_READY)      -> create the session on `path` (an EPContext model)
 *   else if (r == OVEP_FAST_START_BUILD) -> create the session on "model.onnx" with the session
 *        config entries ep.context_enable=1 and ep.context_file_path=<path>, then call
 *        ovep_fast_start_publish(path, path, sizeof path) (the session is ready to use as is)
 *   else if (r == OVEP_FAST_START_PLAIN || r == OVEP_FAST_START_OFF)
 *                                        -> create the session on "model.onnx" as usual (PLAIN: the
 *        model has no EPContext form here, see below; OFF: the cache is off)
 *   else                                 -> `path` holds the error message
 *
 * A model has no EPContext form when ovep compiles none of it (ORT then writes no context model)
 * or when one of its subgraphs cannot be written as an EPContext node (its session fails with
 * "cannot be written as an EPContext node"; create it again without ep.context_enable).
 * Either way, call ovep_fast_start_publish on the build's path: it returns
 * OVEP_FAST_START_PLAIN and later starts get OVEP_FAST_START_PLAIN instead of building again.
 *
 * device: the OpenVINO device of the session (NULL: "CPU"). options_key: any text that changes
 * when the ovep options the session uses change. Written as the session's ovep options, one
 * "key=value" line each without the ep.ovepexecutionprovider. prefix and without cache_dir (e.g.
 * "precision=f32\nnum_threads=2"), it also gives a head start: on OVEP_FAST_START_READY ovep
 * starts importing the context model's compiled blobs on a background thread, and the session
 * created next with those options takes them instead of importing (other text skips this; call
 * the function before registering ovep with ORT for the longest head start). cache_dir: NULL for
 * the default (the cache_dir option's rules), "" for off. Results are NUL-terminated, truncated to
 * out_size. Safe to call from several processes at once: one publishes, the others reuse it.
 */
#define OVEP_FAST_START_READY 1
#define OVEP_FAST_START_BUILD 0
#define OVEP_FAST_START_OFF (-1)
#define OVEP_FAST_START_FAILED (-2)
#define OVEP_FAST_START_PLAIN 2
int ovep_fast_start_path(const char* model_path, const char* device, const char* options_key, const char* cache_dir,
                         char* out, size_t out_size);
/* Publish what the build at `staged_path` left: its EPContext model (returns OVEP_FAST_START_READY
 * and writes its final path into `out`) or none (returns OVEP_FAST_START_PLAIN, `out` empty).
 * OVEP_FAST_START_FAILED puts the message in `out`. */
int ovep_fast_start_publish(const char* staged_path, char* out, size_t out_size);

/*
 * Cache maintenance (what `ovep cache ...` runs). command: "ls", "stats", "verify" (removes what
 * is damaged), "prune" (argument: size cap in bytes; least recently used first), "export" /
 * "import" (argument: a bundle file to copy to other machines; import verifies every entry and
 * skips those compiled for another OpenVINO build or a device this machine lacks). cache_dir:
 * NULL for the default. Returns 0 with a JSON report in *out, or OVEP_FAST_START_FAILED with the
 * message in *out; free *out with ovep_string_free.
 */
int ovep_cache_command(const char* cache_dir, const char* command, const char* argument, char** out);
void ovep_string_free(char* s);

/* Wait for ovep's background work (cache writes, shape compiles): 1 when done, 0 on timeout. */
int ovep_wait_background(unsigned long long timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* OVEP_H */
