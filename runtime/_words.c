/* words-v1 over many texts in one C loop: the words of each text and their vocabulary ids.
 *
 * The rule is the one runtime/tokenizer.py states above _mapped_byte; this file holds its loop,
 * not its character classes: the Python side passes the byte map (_MAPPED) and gives each text
 * either as an ASCII str (read in place: CPython keeps an ASCII str's characters as bytes) or as
 * the bytes of a normalized non-ASCII text. After the map, a byte is in a word iff it is >= '0',
 * except an apostrophe ('`') without a word byte on both sides; '<' is '!', '>' is '"', '/' is
 * kept, whitespace is ' '. A text's bytes end where it ends: reading past either end sees a
 * separator, so no read leaves the text.
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
    uint64_t multiplier; /* slot = (hash * multiplier) >> shift; 0 puts every word in slot 0 */
    int shift;
    size_t mask;           /* slots - 1 (slots: a power of two, at most half of them full) */
    Slot *slots;
    uint32_t *tails;       /* per slot: where the word's bytes after its head are in keys */
    unsigned char *keys;   /* the bytes after the head of each word longer than 8 */
    Py_ssize_t longest;    /* no word longer than this has an id */
} Vocabulary;

/* The hash of a word in a buffer zero-padded to a multiple of 8 bytes. */
static uint64_t word_hash(const unsigned char *word, Py_ssize_t length) {
    uint64_t hash = (uint64_t)length;
    for (Py_ssize_t at = 0; at < length; at += 8) {
        uint64_t chunk;
        memcpy(&chunk, word + at, 8);
        hash = (hash ^ chunk) * MIX;
        hash ^= hash >> 29;
    }
    return hash;
}

static uint64_t word_head(const unsigned char *word) {
    uint64_t head;
    memcpy(&head, word, 8);
    return head;
}

static size_t home_slot(const Vocabulary *self, uint64_t hash) {
    return (size_t)((hash * self->multiplier) >> self->shift) & self->mask;
}

/* The slot of word (zero-padded to a multiple of 8 bytes), or of the empty slot where it would go. */
static size_t find(const Vocabulary *self, const unsigned char *word, Py_ssize_t length) {
    uint64_t head = word_head(word);
    size_t slot = home_slot(self, word_hash(word, length));
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
    size_t total = 0;
    Py_ssize_t longest = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *key = PySequence_Fast_GET_ITEM(keys, i);
        if (!PyBytes_Check(key) || PyBytes_GET_SIZE(key) == 0) {
            PyErr_SetString(PyExc_TypeError, "each key must be non-empty bytes");
            goto done;
        }
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
        long long id = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(ids, i));
        if (id == -1 && PyErr_Occurred()) {
            goto done;
        }
        if (id <= 0 || id > UINT32_MAX) {
            PyErr_SetString(PyExc_ValueError, "ids must be in 1 .. 2**32 - 1");
            goto done;
        }
        memset(padded, 0, longest + 8);
        memcpy(padded, PyBytes_AS_STRING(key), length);
        size_t slot = find(self, padded, length);
        Slot *at = &self->slots[slot];
        if (at->id == 0) { /* else a duplicate key: the later id wins, as in a dict */
            at->head = word_head(padded);
            at->length = (uint32_t)length;
            if (length > 8) {
                memcpy(self->keys + offset, padded + 8, length - 8);
                self->tails[slot] = (uint32_t)offset;
                offset += (size_t)length - 8;
            }
        }
        at->id = (uint32_t)id;
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
    Py_XDECREF(keys);
    Py_XDECREF(ids);
    PyBuffer_Release(&byte_map);
    return status;
}

/* The ids of one text's words, the last max_len of them kept in ring (max_len slots); returns
 * how many words the text has. word: room for the longest vocabulary word + 1 byte, rounded up
 * to a multiple of 8, + 8. */
static Py_ssize_t text_ids(const Vocabulary *self, const unsigned char *text, Py_ssize_t size, int64_t oov,
                           int64_t *ring, Py_ssize_t max_len, unsigned char *word) {
    const unsigned char *map = self->map;
    /* longest + 1 bytes tell a longer word from all keys; 2: "br" is read even without a vocabulary */
    const Py_ssize_t room = self->longest + 1 > 2 ? self->longest + 1 : 2;
    Py_ssize_t found = 0, slot = 0;
    Py_ssize_t at = 0;
    while (at < size) {
        unsigned char c = map[text[at]];
        if (c < '0' || c == '`') {
            at++;
            continue;
        }
        Py_ssize_t start = at, length = 0;
        for (;;) { /* at: a word byte */
            if (length < room) {
                word[length] = c;
            }
            length++;
            at++;
            if (at >= size) {
                break;
            }
            c = map[text[at]];
            if (c >= '0' && c != '`') {
                continue;
            }
            if (c == '`' && at + 1 < size) { /* an apostrophe between word bytes stays in the word */
                unsigned char next = map[text[at + 1]];
                if (next >= '0' && next != '`') {
                    continue;
                }
            }
            break;
        }
        /* at: one past the word. A word "br" right after '<' and before spaces, an optional '/'
         * and '>' is a line break tag, not a word. */
        if (length == 2 && start > 0 && map[text[start - 1]] == '!' && word[0] == 'b' && word[1] == 'r') {
            Py_ssize_t end = at;
            while (end < size && map[text[end]] == ' ') {
                end++;
            }
            if (end < size && map[text[end]] == '/') {
                end++;
            }
            if (end < size && map[text[end]] == '"') {
                continue;
            }
        }
        int64_t id = oov;
        if (length <= self->longest) {
            memset(word + length, 0, 8); /* the hash and the head read whole 8-byte chunks */
            const Slot *hit = &self->slots[find(self, word, length)];
            id = hit->id ? (int64_t)hit->id : oov;
        }
        ring[slot] = id;
        if (++slot == max_len) {
            slot = 0;
        }
        found++;
    }
    return found;
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
    PyObject *texts = PySequence_Fast(texts_arg, "texts must be a sequence");
    if (texts == NULL) {
        return NULL;
    }
    Py_ssize_t count = PySequence_Fast_GET_SIZE(texts);
    PyObject *result = NULL, *ids = NULL, *counts = NULL;
    const unsigned char **data = PyMem_Malloc(sizeof(*data) * (count ? count : 1));
    Py_ssize_t *sizes = PyMem_Malloc(sizeof(*sizes) * (count ? count : 1));
    int64_t *ring = PyMem_Malloc(sizeof(int64_t) * max_len);
    unsigned char *word = PyMem_Malloc((self->longest + 1 + 7) / 8 * 8 + 8); /* see text_ids */
    if (!data || !sizes || !ring || !word) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t bound = 0; /* ids at most: each text gives its kept words, or one OOV */
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *text = PySequence_Fast_GET_ITEM(texts, i);
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
    }
    ids = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)sizeof(int64_t) * bound);
    counts = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)sizeof(int64_t) * count);
    if (ids == NULL || counts == NULL) {
        goto done;
    }
    int64_t *out = (int64_t *)PyByteArray_AS_STRING(ids);
    int64_t *out_counts = (int64_t *)PyByteArray_AS_STRING(counts);
    Py_ssize_t written = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        Py_ssize_t found = text_ids(self, data[i], sizes[i], (int64_t)oov, ring, max_len, word);
        if (found == 0) { /* a text without words is one unknown word */
            out[written++] = (int64_t)oov;
            out_counts[i] = 1;
        } else if (found <= max_len) {
            memcpy(out + written, ring, sizeof(int64_t) * found);
            written += found;
            out_counts[i] = found;
        } else { /* the ring's oldest kept id sits where the next would go */
            Py_ssize_t oldest = found % max_len;
            memcpy(out + written, ring + oldest, sizeof(int64_t) * (max_len - oldest));
            memcpy(out + written + (max_len - oldest), ring, sizeof(int64_t) * oldest);
            written += max_len;
            out_counts[i] = max_len;
        }
    }
    if (PyByteArray_Resize(ids, (Py_ssize_t)sizeof(int64_t) * written) != 0) {
        goto done;
    }
    result = PyTuple_Pack(2, ids, counts);
done:
    Py_XDECREF(ids);
    Py_XDECREF(counts);
    PyMem_Free(data);
    PyMem_Free(sizes);
    PyMem_Free(ring);
    PyMem_Free(word);
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
