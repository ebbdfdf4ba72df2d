/* Classify token ids with an edgelstm model.onnx through OpenVINO's C API.
 *
 *   classify_openvino MODEL.onnx < ids.txt
 *
 * Each input line is one text's token ids, separated by spaces (the ids that tokenizer.json
 * beside the model gives; a text without words is the single id 1; keep the last max_len ids).
 * Each output line is that text's probabilities, one per label in the model's label order
 * (`edgelstm info MODEL`), printed with 9 significant digits. Every text runs alone (batch 1).
 *
 * Build (the openvino wheel ships the headers and libopenvino_c):
 *   OV=$(python -c "import openvino, os; print(os.path.dirname(openvino.__file__))")
 *   gcc -O2 -o classify_openvino classify_openvino.c -I"$OV/include" \
 *       "$OV/libs/libopenvino_c.so".* -Wl,-rpath,"$OV/libs"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openvino/c/openvino.h>

#define CHECK(call)                                                                        \
    do {                                                                                   \
        ov_status_e status_ = (call);                                                      \
        if (status_ != OK) {                                                               \
            fprintf(stderr, "classify_openvino: %s: %s (%s)\n", #call,                     \
                    ov_get_error_info(status_), ov_get_last_err_msg());                    \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

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
                fprintf(stderr, "classify_openvino: out of memory\n");
                exit(1);
            }
        }
        (*ids)[n++] = id;
        cursor = end;
    }
    free(line);
    return n;
}

static ov_tensor_t *tensor_of(ov_element_type_e type, int64_t rank, const int64_t *dims, void *data) {
    ov_shape_t shape;
    ov_tensor_t *tensor = NULL;
    CHECK(ov_shape_create(rank, dims, &shape));
    CHECK(ov_tensor_create_from_host_ptr(type, shape, data, &tensor));
    CHECK(ov_shape_free(&shape));
    return tensor;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL.onnx < ids.txt\n", argv[0]);
        return 2;
    }
    ov_core_t *core = NULL;
    ov_model_t *model = NULL;
    ov_compiled_model_t *compiled = NULL;
    ov_infer_request_t *request = NULL;
    CHECK(ov_core_create(&core));
    CHECK(ov_core_read_model(core, argv[1], NULL, &model));

    /* lstm models also take the state before the first step: zeros [1, hidden] for a whole text */
    int64_t hidden = 0;
    ov_output_const_port_t *port = NULL;
    if (ov_model_const_input_by_name(model, "initial_h", &port) == OK) {
        ov_partial_shape_t shape;
        CHECK(ov_port_get_partial_shape(port, &shape));
        hidden = shape.dims[1].max;
        ov_partial_shape_free(&shape);
        ov_output_const_port_free(port);
    }

    /* f32: the default on CPUs with AMX is bf16 (about 1e-3 off); group size 0: without it int8
     * weights make OpenVINO quantize activations at run time (about 4e-4 off). */
    CHECK(ov_core_compile_model(core, model, "CPU", 4, &compiled, ov_property_key_hint_inference_precision, "f32",
                                "DYNAMIC_QUANTIZATION_GROUP_SIZE", "0"));
    CHECK(ov_compiled_model_create_infer_request(compiled, &request));

    float *zeros = calloc(hidden ? (size_t)hidden : 1, sizeof *zeros);
    int64_t *ids = NULL;
    size_t capacity = 0;
    for (long n; (n = read_ids(stdin, &ids, &capacity)) >= 0;) {
        if (n == 0) {
            fprintf(stderr, "classify_openvino: an empty line; a text without words is the id 1\n");
            return 1;
        }
        int64_t length = n, ids_dims[2] = {1, n}, one = 1, state_dims[2] = {1, hidden};
        ov_tensor_t *inputs[4] = {tensor_of(I64, 2, ids_dims, ids), tensor_of(I64, 1, &one, &length), NULL, NULL};
        CHECK(ov_infer_request_set_tensor(request, "input_ids", inputs[0]));
        CHECK(ov_infer_request_set_tensor(request, "lengths", inputs[1]));
        if (hidden) {
            inputs[2] = tensor_of(F32, 2, state_dims, zeros);
            inputs[3] = tensor_of(F32, 2, state_dims, zeros);
            CHECK(ov_infer_request_set_tensor(request, "initial_h", inputs[2]));
            CHECK(ov_infer_request_set_tensor(request, "initial_c", inputs[3]));
        }
        CHECK(ov_infer_request_infer(request));

        ov_tensor_t *output = NULL;
        ov_shape_t shape;
        float *probabilities = NULL;
        CHECK(ov_infer_request_get_tensor(request, "probabilities", &output));
        CHECK(ov_tensor_get_shape(output, &shape));
        CHECK(ov_tensor_data(output, (void **)&probabilities));
        for (int64_t i = 0; i < shape.dims[1]; i++) {
            printf(i ? " %.9g" : "%.9g", probabilities[i]);
        }
        printf("\n");
        CHECK(ov_shape_free(&shape));
        ov_tensor_free(output);
        for (int i = 0; i < 4; i++) {
            if (inputs[i]) {
                ov_tensor_free(inputs[i]);
            }
        }
    }
    free(ids);
    free(zeros);
    ov_infer_request_free(request);
    ov_compiled_model_free(compiled);
    ov_model_free(model);
    ov_core_free(core);
    return 0;
}
