/* Classify token ids with an edgelstm model.onnx through onnxruntime's C API.
 *
 *   classify_onnxruntime MODEL.onnx < ids.txt
 *
 * Each input line is one text's token ids, separated by spaces (the ids that tokenizer.json
 * beside the model gives; a text without words is the single id 1; keep the last max_len ids).
 * Each output line is that text's probabilities, one per label in the model's label order
 * (`edgelstm info MODEL`), printed with 9 significant digits. Every text runs alone (batch 1).
 *
 * Build: onnxruntime_c_api.h is in the include/ folder of onnxruntime's release archives
 * (onnxruntime-linux-x64-VERSION.tgz, with lib/libonnxruntime.so); the onnxruntime Python wheel
 * ships the library (onnxruntime/capi/libonnxruntime.so.VERSION) but no header.
 *   gcc -O2 -o classify_onnxruntime classify_onnxruntime.c -I"$ORT/include" \
 *       "$ORT/lib/libonnxruntime.so" -Wl,-rpath,"$ORT/lib"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <onnxruntime_c_api.h>

static const OrtApi *ort;

static void check(OrtStatus *status, const char *what) {
    if (status) {
        fprintf(stderr, "classify_onnxruntime: %s: %s\n", what, ort->GetErrorMessage(status));
        ort->ReleaseStatus(status);
        exit(1);
    }
}
#define CHECK(call) check((call), #call)

/* Reads one line of ids into *ids (grown as needed); returns the count, or -1 at the end. */
static long read_ids(FILE *in, int64_t **ids, size_t *capacity) {
    char *line = NULL;
    size_t line_capacity = 0;
    if (getline(&line, &line_capacity, in) < 0) {
        free(line);
        return -1;
    }
    long n = 0;
    char *cursor = line, *end;
    for (long long id = strtoll(cursor, &end, 10); end != cursor; id = strtoll(cursor, &end, 10)) {
        if ((size_t)n == *capacity) {
            *capacity = *capacity ? 2 * *capacity : 512;
            *ids = realloc(*ids, *capacity * sizeof **ids);
            if (!*ids) {
                fprintf(stderr, "classify_onnxruntime: out of memory\n");
                exit(1);
            }
        }
        (*ids)[n++] = id;
        cursor = end;
    }
    free(line);
    return n;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL.onnx < ids.txt\n", argv[0]);
        return 2;
    }
    ort = OrtGetApiBase()->GetApi(ORT_API_VERSION);
    if (!ort) {
        fprintf(stderr, "classify_onnxruntime: the onnxruntime library is older than its header\n");
        return 1;
    }
    OrtEnv *env = NULL;
    OrtSessionOptions *options = NULL;
    OrtSession *session = NULL;
    CHECK(ort->CreateEnv(ORT_LOGGING_LEVEL_WARNING, "edgelstm", &env));
    CHECK(ort->CreateSessionOptions(&options));
    CHECK(ort->SetIntraOpNumThreads(options, 1));  /* one text at a time: one thread is enough */
    CHECK(ort->CreateSession(env, argv[1], options, &session));

    /* lstm models also take the state before the first step: zeros [1, hidden] for a whole text */
    int64_t hidden = 0;
    size_t count = 0;
    OrtAllocator *allocator = NULL;
    CHECK(ort->GetAllocatorWithDefaultOptions(&allocator));
    CHECK(ort->SessionGetInputCount(session, &count));
    for (size_t i = 0; i < count; i++) {
        char *name = NULL;
        CHECK(ort->SessionGetInputName(session, i, allocator, &name));
        if (strcmp(name, "initial_h") == 0) {
            OrtTypeInfo *type = NULL;
            const OrtTensorTypeAndShapeInfo *tensor = NULL;
            int64_t dims[2] = {0, 0};
            CHECK(ort->SessionGetInputTypeInfo(session, i, &type));
            CHECK(ort->CastTypeInfoToTensorInfo(type, &tensor));
            CHECK(ort->GetDimensions(tensor, dims, 2));
            hidden = dims[1];
            ort->ReleaseTypeInfo(type);
        }
        CHECK(ort->AllocatorFree(allocator, name));
    }

    OrtMemoryInfo *memory = NULL;
    CHECK(ort->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &memory));
    const char *input_names[4] = {"input_ids", "lengths", "initial_h", "initial_c"};
    const char *output_names[1] = {"probabilities"};
    float *zeros = calloc(hidden ? (size_t)hidden : 1, sizeof *zeros);
    int64_t *ids = NULL;
    size_t capacity = 0;
    for (long n; (n = read_ids(stdin, &ids, &capacity)) >= 0;) {
        if (n == 0) {
            fprintf(stderr, "classify_onnxruntime: an empty line; a text without words is the id 1\n");
            return 1;
        }
        int64_t length = n, ids_shape[2] = {1, n}, one = 1, state_shape[2] = {1, hidden};
        OrtValue *inputs[4] = {NULL, NULL, NULL, NULL}, *output = NULL;
        CHECK(ort->CreateTensorWithDataAsOrtValue(memory, ids, n * sizeof *ids, ids_shape, 2,
                                                  ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64, &inputs[0]));
        CHECK(ort->CreateTensorWithDataAsOrtValue(memory, &length, sizeof length, &one, 1,
                                                  ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64, &inputs[1]));
        for (int i = 2; hidden && i < 4; i++) {
            CHECK(ort->CreateTensorWithDataAsOrtValue(memory, zeros, hidden * sizeof *zeros, state_shape, 2,
                                                      ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &inputs[i]));
        }
        CHECK(ort->Run(session, NULL, input_names, (const OrtValue *const *)inputs, hidden ? 4 : 2, output_names, 1,
                       &output));

        OrtTensorTypeAndShapeInfo *info = NULL;
        int64_t shape[2] = {0, 0};
        float *probabilities = NULL;
        CHECK(ort->GetTensorTypeAndShape(output, &info));
        CHECK(ort->GetDimensions(info, shape, 2));
        ort->ReleaseTensorTypeAndShapeInfo(info);
        CHECK(ort->GetTensorMutableData(output, (void **)&probabilities));
        for (int64_t i = 0; i < shape[1]; i++) {
            printf(i ? " %.9g" : "%.9g", probabilities[i]);
        }
        printf("\n");
        ort->ReleaseValue(output);
        for (int i = 0; i < 4; i++) {
            ort->ReleaseValue(inputs[i]);  /* NULL is allowed */
        }
    }
    free(ids);
    free(zeros);
    ort->ReleaseMemoryInfo(memory);
    ort->ReleaseSession(session);
    ort->ReleaseSessionOptions(options);
    ort->ReleaseEnv(env);
    return 0;
}
