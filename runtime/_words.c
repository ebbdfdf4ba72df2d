/* words-v1 over many texts in one C loop: the words of each text and their vocabulary ids.
 *
 * The rule is the one runtime/tokenizer.py states above _mapped_byte; this file holds its loop,
 * not its character classes: the Python side passes the byte map (_MAPPED) and gives each text
 * either as an ASCII str (read in place: CPython keeps an ASCII str's characters as bytes) or as
 * the bytes of a normalized non-ASCII text. After the map, a byte is in a word iff it is >= '0',
 * except an apostrophe ('`') without a word byte on both sides; '<' is '!', '>' is '"', '/' is
 * kept, whitespace is ' '.
 *
 * Per text: one pass without data-dependent branches maps the bytes into a buffer between
 * separators (END) and notes where runs of word bytes start and end; then the last max_len
 * words (runs joined by apostrophes), newest first, get their hash and a prefetch of their slot
 * (the table is larger than L2: most of the lookups' time was waiting for memory), then their
 * lookups. The loop over the texts runs without the GIL: its inputs are immutable str/bytes
 * objects held by a tuple.
 *
 * Plain CPython C API (no numpy): the ids and per-text counts come back as bytearrays of int64
 * that numpy views with np.frombuffer. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#define MIX 0x9E3779B97F4A7C15ULL

/* A word is looked up by its mapped bytes: the first 8 of them (zero-padded) are its head, the
 * rest its tail (in the keys blob). One slot holds what most lookups need, in 16 bytes. */
typedef struct {
    uint64_t head;
    uint32_t id;     /* 0: an empty slot */
    uint32_t length;
} Slot;

typedef struct {
    PyObject_HEAD
    unsigned char map[256];
    uint16_t codes[256];   /* of each byte: whether it is a word byte << 8 | its mapped byte */
    uint64_t multiplier; /* slot = (hash * multiplier) >> shift; 0 puts every word in slot 0 */
    int shift;
    size_t mask;           /* slots - 1 (slots: a power of two, at most half of them full) */
    Slot *slots;
    uint32_t *tails;       /* per slot: where the word's bytes after its head are in keys */
    unsigned char *keys;   /* the bytes after the head of each word longer than 8 */
    Py_ssize_t longest;    /* no word longer than this has an id */
} Vocabulary;

/* keep[n]: the mask of a uint64 read from memory that keeps its first n bytes (either byte order). */
static uint64_t keep[9];

/* The 8 bytes at word as a uint64, only the first `left` of them kept when fewer are left. A word's
 * buffer has 8 readable bytes after its end (the mapped text's END padding, or a key's zeros). */
static uint64_t chunk(const unsigned char *word, Py_ssize_t left) {
    uint64_t bytes;
    memcpy(&bytes, word, 8);
    return left >= 8 ? bytes : bytes & keep[left];
}

static uint64_t word_hash(const unsigned char *word, Py_ssize_t length) {
    uint64_t hash = (uint64_t)length;
    for (Py_ssize_t at = 0; at < length; at += 8) {
        hash = (hash ^ chunk(word + at, length - at)) * MIX;
        hash ^= hash >> 29;
    }
    return hash;
}

static size_t home_slot(const Vocabulary *self, uint64_t hash) {
    return (size_t)((hash * self->multiplier) >> self->shift) & self->mask;
}

/* The slot of word (from its home slot on), or of the empty slot where it would go. */
static size_t find(const Vocabulary *self, const unsigned char *word, Py_ssize_t length, size_t slot) {
    uint64_t head = chunk(word, length);
    for (;; slot = (slot + 1) & self->mask) { /* at most half the slots are full: an empty one ends the walk */
        const Slot *at = &self->slots[slot];
        if (at->id == 0) {
            return slot;
        }
        if (at->length == (uint32_t)length && at->head == head &&
            (length <= 8 || memcmp(self->keys + self->tails[slot], word + 8, length - 8) == 0)) {
            return slot;
        }
    }
}

static void Vocabulary_dealloc(Vocabulary *self) {
    PyMem_Free(self->slots);
    PyMem_Free(self->tails);
    PyMem_Free(self->keys);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Vocabulary_init(Vocabulary *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"keys", "ids", "byte_map", "multiplier", NULL};
    PyObject *keys_arg, *ids_arg;
    Py_buffer byte_map;
    unsigned long long multiplier;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOy*K", kwlist, &keys_arg, &ids_arg, &byte_map, &multiplier)) {
        return -1;
    }
    if (self->slots != NULL) {
        PyBuffer_Release(&byte_map);
        PyErr_SetString(PyExc_RuntimeError, "Vocabulary is already initialized");
        return -1;
    }
    int status = -1;
    unsigned char *padded = NULL;
    uint32_t *values = NULL;
    PyObject *keys = PySequence_Fast(keys_arg, "keys must be a sequence of bytes");
    PyObject *ids = keys == NULL ? NULL : PySequence_Fast(ids_arg, "ids must be a sequence of int");
    if (ids == NULL) {
        goto done;
    }
    if (byte_map.len != 256) {
        PyErr_SetString(PyExc_ValueError, "byte_map must be 256 bytes");
        goto done;
    }
    Py_ssize_t count = PySequence_Fast_GET_SIZE(keys);
    if (PySequence_Fast_GET_SIZE(ids) != count) {
        PyErr_SetString(PyExc_ValueError, "keys and ids differ in length");
        goto done;
    }
    values = PyMem_Malloc(sizeof(uint32_t) * (count ? count : 1));
    if (values == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    /* Every check and conversion (which may run Python code: an int's __index__) before the table
     * is built: no other thread ever sees a half-built table (encode runs without the GIL). */
    size_t total = 0;
    Py_ssize_t longest = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *key = PySequence_Fast_GET_ITEM(keys, i);
        if (!PyBytes_Check(key) || PyBytes_GET_SIZE(key) == 0) {
            PyErr_SetString(PyExc_TypeError, "each key must be non-empty bytes");
            goto done;
        }
        long long id = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(ids, i));
        if (id == -1 && PyErr_Occurred()) {
            goto done;
        }
        if (id <= 0 || id > UINT32_MAX) {
            PyErr_SetString(PyExc_ValueError, "ids must be in 1 .. 2**32 - 1");
            goto done;
        }
        values[i] = (uint32_t)id;
        Py_ssize_t length = PyBytes_GET_SIZE(key);
        total += length > 8 ? (size_t)length - 8 : 0;
        longest = length > longest ? length : longest;
        if (total > UINT32_MAX || length > UINT32_MAX) {
            PyErr_SetString(PyExc_OverflowError, "the vocabulary's words are too long");
            goto done;
        }
    }
    int bits = 4;
    while (((size_t)1 << bits) < 2 * (size_t)count + 1) { /* at most half the slots full */
        bits++;
    }
    memcpy(self->map, byte_map.buf, 256);
    for (int c = 0; c < 256; c++) {
        unsigned word = self->map[c] >= '0' && self->map[c] != '`';
        self->codes[c] = (uint16_t)(word << 8 | self->map[c]);
    }
    self->multiplier = multiplier;
    self->shift = 64 - bits;
    self->mask = ((size_t)1 << bits) - 1;
    self->longest = longest;
    self->slots = PyMem_Calloc(self->mask + 1, sizeof(Slot));
    self->tails = PyMem_Calloc(self->mask + 1, sizeof(uint32_t));
    self->keys = PyMem_Malloc(total ? total : 1);
    padded = PyMem_Calloc(longest + 8, 1);
    if (!self->slots || !self->tails || !self->keys || !padded) {
        PyErr_NoMemory();
        goto done;
    }
    size_t offset = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *key = PySequence_Fast_GET_ITEM(keys, i);
        Py_ssize_t length = PyBytes_GET_SIZE(key);
        memset(padded, 0, longest + 8);
        memcpy(padded, PyBytes_AS_STRING(key), length);
        size_t slot = find(self, padded, length, home_slot(self, word_hash(padded, length)));
        Slot *at = &self->slots[slot];
        if (at->id == 0) { /* else a duplicate key: the later id wins, as in a dict */
            at->head = chunk(padded, 8);
            at->length = (uint32_t)length;
            if (length > 8) {
                memcpy(self->keys + offset, padded + 8, length - 8);
                self->tails[slot] = (uint32_t)offset;
                offset += (size_t)length - 8;
            }
        }
        at->id = values[i];
    }
    status = 0;
done:
    if (status != 0) { /* a half-built table must not be used */
        PyMem_Free(self->slots);
        PyMem_Free(self->tails);
        PyMem_Free(self->keys);
        self->slots = NULL;
        self->tails = NULL;
        self->keys = NULL;
    }
    PyMem_Free(padded);
    PyMem_Free(values);
    Py_XDECREF(keys);
    Py_XDECREF(ids);
    PyBuffer_Release(&byte_map);
    return status;
}

/* A text's mapped bytes lie in a buffer between separators: END before them and PAD of them
 * after (a word's 8-byte chunks and the line break rule read that far). END is none of the
 * separators a rule looks for. */
#define END '#'
#define PAD 16

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(address) __builtin_prefetch(address)
#else
#define PREFETCH(address) ((void)(address))
#endif

typedef struct {
    Py_ssize_t start, length; /* in the mapped buffer */
    size_t slot;              /* the word's home slot, prefetched; unused for a word with no id */
} Word;

/* Whether the word "br" at word (mapped) is the inside of a line break tag: right after '<',
 * before spaces, an optional '/' and '>'. */
static int line_break(const unsigned char *word) {
    if (word[-1] != '!' || word[0] != 'b' || word[1] != 'r') {
        return 0;
    }
    const unsigned char *end = word + 2;
    while (*end == ' ') {
        end++;
    }
    end += *end == '/';
    return *end == '"';
}

/* The ids of the last max_len words of a text (size bytes), written to out; returns how many
 * (0: the text has no words). buffer: size + PAD + 1 bytes; bounds: size + 2; words: max_len, or
 * size / 2 + 1 if fewer (words need a separator between them). */
static Py_ssize_t text_ids(const Vocabulary *self, const unsigned char *text, Py_ssize_t size, int64_t oov,
                           Py_ssize_t max_len, int64_t *out, unsigned char *buffer, Py_ssize_t *bounds,
                           Word *words) {
    unsigned char *mapped = buffer + 1;
    buffer[0] = END;
    /* Where each run of word bytes starts and ends (one past), in turn. Every byte writes, only
     * a change moves on: no branch depends on the text. */
    const uint16_t *codes = self->codes;
    Py_ssize_t changes = 0;
    unsigned in = 0;
    for (Py_ssize_t i = 0; i < size; i++) {
        unsigned code = codes[text[i]];
        unsigned was = in;
        mapped[i] = (unsigned char)code;
        in = code >> 8;
        bounds[changes] = i;
        changes += in ^ was;
    }
    bounds[changes] = size;
    changes += in;
    memset(mapped + size, END, PAD);
    /* The last max_len words, newest first, each one's home slot computed and prefetched: the
     * lookups below then find the table's lines on their way. A word is a run, or runs joined
     * by single apostrophes (an apostrophe between word bytes). */
    Py_ssize_t kept = 0;
    for (Py_ssize_t at = changes - 2; at >= 0 && kept < max_len; at -= 2) {
        Word *word = &words[kept];
        Py_ssize_t end = bounds[at + 1];
        while (at >= 2 && bounds[at - 1] == bounds[at] - 1 && mapped[bounds[at] - 1] == '`') {
            at -= 2;
        }
        word->start = bounds[at];
        word->length = end - bounds[at];
        if (word->length == 2 && line_break(mapped + word->start)) {
            continue;
        }
        if (word->length <= self->longest) {
            word->slot = home_slot(self, word_hash(mapped + word->start, word->length));
            PREFETCH(&self->slots[word->slot]);
            if (word->length > 8) { /* where the rest of its key is: another line */
                PREFETCH(&self->tails[word->slot]);
            }
        }
        kept++;
    }
    for (Py_ssize_t i = 0; i < kept; i++) {
        const Word *word = &words[i];
        int64_t id = oov;
        if (word->length <= self->longest) {
            const Slot *hit = &self->slots[word->slot];
            /* most words: 8 bytes at most, at their home slot (an empty slot's length is 0) */
            if (word->length > 8 || hit->length != (uint32_t)word->length ||
                hit->head != chunk(mapped + word->start, word->length)) {
                hit = &self->slots[find(self, mapped + word->start, word->length, word->slot)];
            }
            id = hit->id ? (int64_t)hit->id : oov;
        }
        out[kept - 1 - i] = id;
    }
    return kept;
}

static PyObject *Vocabulary_encode(Vocabulary *self, PyObject *args) {
    PyObject *texts_arg;
    Py_ssize_t max_len;
    long long oov;
    if (!PyArg_ParseTuple(args, "OnL", &texts_arg, &max_len, &oov)) {
        return NULL;
    }
    if (self->slots == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Vocabulary is not initialized");
        return NULL;
    }
    if (max_len < 1) {
        PyErr_SetString(PyExc_ValueError, "max_len must be at least 1");
        return NULL;
    }
    /* A tuple, not the caller's list: it holds the texts while the loop reads them without the
     * GIL, whatever another thread does to that list meanwhile. */
    PyObject *texts = PySequence_Tuple(texts_arg);
    if (texts == NULL) {
        return NULL;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(texts);
    PyObject *result = NULL, *ids = NULL, *counts = NULL;
    unsigned char *buffer = NULL;
    Py_ssize_t *bounds = NULL;
    Word *words = NULL;
    const unsigned char **data = PyMem_Malloc(sizeof(*data) * (count ? count : 1));
    Py_ssize_t *sizes = PyMem_Malloc(sizeof(*sizes) * (count ? count : 1));
    if (!data || !sizes) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t bound = 0, largest = 0; /* ids at most: each text gives its kept words, or one OOV */
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *text = PyTuple_GET_ITEM(texts, i);
        if (PyUnicode_Check(text)) {
#if PY_VERSION_HEX < 0x030C0000
            if (PyUnicode_READY(text) < 0) {
                goto done;
            }
#endif
            if (!PyUnicode_IS_ASCII(text)) {
                PyErr_SetString(PyExc_ValueError, "a str text must be ASCII (give others as their mapped bytes)");
                goto done;
            }
            data[i] = (const unsigned char *)PyUnicode_AsUTF8AndSize(text, &sizes[i]);
            if (data[i] == NULL) {
                goto done;
            }
        } else if (PyBytes_Check(text)) {
            data[i] = (const unsigned char *)PyBytes_AS_STRING(text);
            sizes[i] = PyBytes_GET_SIZE(text);
        } else {
            PyErr_SetString(PyExc_TypeError, "each text must be an ASCII str or bytes");
            goto done;
        }
        Py_ssize_t most = sizes[i] / 2 + 1; /* words need a separator between them */
        bound += most < max_len ? most : max_len;
        largest = sizes[i] > largest ? sizes[i] : largest;
    }
    buffer = PyMem_Malloc(largest + PAD + 1); /* see text_ids */
    bounds = PyMem_Malloc(sizeof(Py_ssize_t) * (largest + 2));
    words = PyMem_Malloc(sizeof(Word) * (max_len < largest / 2 + 1 ? max_len : largest / 2 + 1));
    ids = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)sizeof(int64_t) * bound);
    counts = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)sizeof(int64_t) * count);
    if (!buffer || !bounds || !words) {
        PyErr_NoMemory();
        goto done;
    }
    if (ids == NULL || counts == NULL) {
        goto done;
    }
    int64_t *out = (int64_t *)PyByteArray_AS_STRING(ids);
    int64_t *out_counts = (int64_t *)PyByteArray_AS_STRING(counts);
    Py_ssize_t written = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < count; i++) {
        Py_ssize_t kept = text_ids(self, data[i], sizes[i], (int64_t)oov, max_len, out + written, buffer, bounds, words);
        if (kept == 0) { /* a text without words is one unknown word */
            out[written] = (int64_t)oov;
            kept = 1;
        }
        out_counts[i] = kept;
        written += kept;
    }
    Py_END_ALLOW_THREADS
    if (PyByteArray_Resize(ids, (Py_ssize_t)sizeof(int64_t) * written) != 0) {
        goto done;
    }
    result = PyTuple_Pack(2, ids, counts);
done:
    Py_XDECREF(ids);
    Py_XDECREF(counts);
    PyMem_Free(data);
    PyMem_Free(sizes);
    PyMem_Free(buffer);
    PyMem_Free(bounds);
    PyMem_Free(words);
    Py_DECREF(texts);
    return result;
}

static PyMethodDef Vocabulary_methods[] = {
    {"encode", (PyCFunction)Vocabulary_encode, METH_VARARGS,
     "encode(texts, max_len, oov) -> (ids, counts): each text's last max_len word ids ([oov] for a text "
     "without words), all texts' in one bytearray of int64, and each text's count (bytearray of int64)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject VocabularyType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "edgelstm._words.Vocabulary",
    .tp_doc = PyDoc_STR("Vocabulary(keys, ids, byte_map, multiplier): word ids by the words' mapped bytes."),
    .tp_basicsize = sizeof(Vocabulary),
    .tp_itemsize = 0,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Vocabulary_init,
    .tp_dealloc = (destructor)Vocabulary_dealloc,
    .tp_methods = Vocabulary_methods,
};

static struct PyModuleDef words_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "edgelstm._words",
    .m_doc = "words-v1's words and ids of many texts in one C loop (runtime/tokenizer.py states the rule).",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__words(void) {
    for (int n = 0; n <= 8; n++) {
        unsigned char bytes[8] = {0};
        memset(bytes, 0xFF, n);
        memcpy(&keep[n], bytes, 8);
    }
    if (PyType_Ready(&VocabularyType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&words_module);
    if (module == NULL) {
        return NULL;
    }
    PyObject *all = Py_BuildValue("[s]", "Vocabulary");
    if (all == NULL || PyModule_AddObject(module, "__all__", all) < 0) {
        Py_XDECREF(all);
        Py_DECREF(module);
        return NULL;
    }
    Py_INCREF(&VocabularyType);
    if (PyModule_AddObject(module, "Vocabulary", (PyObject *)&VocabularyType) < 0) {
        Py_DECREF(&VocabularyType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
