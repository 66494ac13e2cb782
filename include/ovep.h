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
/* Smallest group of nodes handed to OpenVINO (integer >= 1, default 2; 1 offers single nodes). */
#define OVEP_OPTION_MIN_SUBGRAPH_NODES "min_subgraph_nodes"
/* Shape-specialized compiled models kept per subgraph for dynamic inputs (integer >= 1, default 8). */
#define OVEP_OPTION_MAX_CACHED_SHAPES "max_cached_shapes"
/* Path to libopenvino_c.so (or its directory) when OpenVINO is not found automatically. */
#define OVEP_OPTION_OPENVINO_LIBRARY "openvino_library"

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
 * The two functions ONNX Runtime calls after loading the library; nothing else is exported.
 * CreateEpFactories creates one factory; ReleaseEpFactory releases it. Neither ever lets an
 * error escape other than as a returned OrtStatus (NULL on success).
 */
struct OrtStatus* CreateEpFactories(const char* registration_name, const struct OrtApiBase* ort_api_base,
                                    const struct OrtLogger* default_logger, struct OrtEpFactory** factories,
                                    size_t max_factories, size_t* num_factories);
struct OrtStatus* ReleaseEpFactory(struct OrtEpFactory* factory);

#ifdef __cplusplus
}
#endif

#endif /* OVEP_H */
