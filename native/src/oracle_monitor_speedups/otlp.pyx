# cython: language_level=3, boundscheck=False, wraparound=False
"""OTLP ``ExportTraceServiceRequest`` bytes straight to span objects, without message wrappers.

The receiver's decoder (`oracle_monitor.receiver.decode`) reads every field through the
protobuf runtime's Python wrappers: a lookup by name and a new object for each attribute's
``KeyValue``, ``AnyValue`` and value (76,500 of the 173,700 instructions a stored span cost
the workers). This module reads the same fields from the wire format in C and builds the same
objects (the chain's instructions a span: 125,700 with it).

It is only ever given bytes that the protobuf runtime has already parsed without error, so it
does not judge what is valid protobuf. It takes on the shapes that encoders produce and leaves
the rest to the runtime's path by raising `Unsupported`: a span that the receiver rejects (bad
ids or times: the runtime's path says why), a singular field or oneof member given twice
(protobuf merges or replaces it), a resource or scope after its spans, a known field with an
unexpected wire type, and groups. Unknown fields are skipped, as the runtime's path ignores
them. What it returns equals what `decode_request` returns for the same bytes
(tests/unit/receiver/test_decode_speedups.py compares the two).
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
from libc.string cimport memcpy


class Unsupported(Exception):
    """Valid protobuf in a shape this decoder leaves to the protobuf runtime's path."""


cdef uint64_t MAX_TIME = 0x7FFFFFFFFFFFFFFF
cdef const char* HEX_DIGITS = b"0123456789abcdef"

# Wire types.
cdef enum:
    VARINT = 0
    I64 = 1
    LEN = 2
    I32 = 5


cdef inline Py_ssize_t read_varint(
    const unsigned char* p, Py_ssize_t i, Py_ssize_t end, uint64_t* out
) except -1:
    cdef uint64_t result = 0
    cdef int shift = 0
    cdef unsigned char byte
    while True:
        if i >= end or shift > 63:
            raise Unsupported("truncated or overlong varint")
        byte = p[i]
        i += 1
        result |= (<uint64_t>(byte & 0x7F)) << shift
        if byte < 0x80:
            out[0] = result
            return i
        shift += 7


cdef inline Py_ssize_t read_tag(
    const unsigned char* p, Py_ssize_t i, Py_ssize_t end, uint64_t* field, int* wire
) except -1:
    cdef uint64_t tag
    if p[i] < 0x80:
        tag = p[i]
        i += 1
    else:
        i = read_varint(p, i, end, &tag)
    field[0] = tag >> 3
    wire[0] = tag & 7
    return i


cdef inline Py_ssize_t read_length(
    const unsigned char* p, Py_ssize_t i, Py_ssize_t end, Py_ssize_t* stop
) except -1:
    cdef uint64_t size
    if i < end and p[i] < 0x80:
        size = p[i]
        i += 1
    else:
        i = read_varint(p, i, end, &size)
    if size > <uint64_t>(end - i):
        raise Unsupported("length beyond the message")
    stop[0] = i + <Py_ssize_t>size
    return i


cdef inline uint64_t read_fixed64(const unsigned char* p, Py_ssize_t i, Py_ssize_t end) except? 0:
    cdef uint64_t value
    if i + 8 > end:
        raise Unsupported("truncated fixed64")
    memcpy(&value, p + i, 8)
    return value


cdef inline uint32_t read_fixed32(const unsigned char* p, Py_ssize_t i, Py_ssize_t end) except? 0:
    cdef uint32_t value
    if i + 4 > end:
        raise Unsupported("truncated fixed32")
    memcpy(&value, p + i, 4)
    return value


cdef Py_ssize_t skip_field(
    const unsigned char* p, Py_ssize_t i, Py_ssize_t end, int wire
) except -1:
    cdef uint64_t ignored
    cdef Py_ssize_t stop
    if wire == VARINT:
        return read_varint(p, i, end, &ignored)
    if wire == I64:
        return i + 8 if i + 8 <= end else _truncated()
    if wire == LEN:
        read_length(p, i, end, &stop)
        return stop
    if wire == I32:
        return i + 4 if i + 4 <= end else _truncated()
    raise Unsupported("group or unknown wire type")


cdef Py_ssize_t _truncated() except -1:
    raise Unsupported("truncated field")


cdef inline int expect(int wire, int wanted) except -1:
    if wire != wanted:
        raise Unsupported("a known field with another wire type")
    return 0


cdef inline uint64_t once(uint64_t seen, uint64_t field) except? 0:
    """``seen`` with ``field`` added; raises if it was there (a singular field given twice)."""
    cdef uint64_t bit = (<uint64_t>1) << field
    if seen & bit:
        raise Unsupported("a singular field given twice")
    return seen | bit


cdef inline str text(const unsigned char* p, Py_ssize_t start, Py_ssize_t stop):
    return PyUnicode_DecodeUTF8(<const char*>(p + start), stop - start, NULL)


cdef int first_two_fields(
    const unsigned char* p, Py_ssize_t i, Py_ssize_t end, Py_ssize_t* bounds
) except -1:
    """Where fields 1 and 2 of a message whose two fields are both length-delimited (a
    ``KeyValue``, an ``InstrumentationScope``) lie: ``bounds`` gets the start and stop of
    field 1, then of field 2; an absent one stays an empty range. Other fields are skipped."""
    cdef uint64_t field, seen = 0
    cdef int wire
    cdef Py_ssize_t k
    bounds[0] = bounds[1] = bounds[2] = bounds[3] = i
    while i < end:
        i = read_tag(p, i, end, &field, &wire)
        if field == 1 or field == 2:
            expect(wire, LEN)
            seen = once(seen, field)
            k = 2 * (<Py_ssize_t>field - 1)
            bounds[k] = read_length(p, i, end, &bounds[k + 1])
            i = bounds[k + 1]
        else:
            i = skip_field(p, i, end, wire)
    return 0


cdef str hex_id(const unsigned char* p, Py_ssize_t size):
    cdef char digits[32]
    cdef Py_ssize_t k
    for k in range(size):
        digits[2 * k] = HEX_DIGITS[p[k] >> 4]
        digits[2 * k + 1] = HEX_DIGITS[p[k] & 15]
    return digits[: 2 * size].decode("ascii")


cdef inline bint all_zero(const unsigned char* p, Py_ssize_t size):
    cdef Py_ssize_t k
    for k in range(size):
        if p[k]:
            return False
    return True


cdef inline bint valid_id(const unsigned char* p, Py_ssize_t size, Py_ssize_t wanted):
    return size == wanted and not all_zero(p, size)


cdef class Decoder:
    """Decodes request bytes into the receiver's span objects.

    Given once: the span, event and link types (called with their fields in order), the
    span kind and status code lookups and their defaults, the marker appended to a string cut
    to ``limit`` characters (bytes are cut to ``limit`` bytes).
    """

    cdef object span_type, event_type, link_type, kinds, codes, unspecified, unset, marker
    cdef Py_ssize_t limit

    def __init__(
        self, span_type, event_type, link_type, kinds, codes, unspecified, unset, marker,
        Py_ssize_t limit,
    ):
        if limit < 0:
            raise ValueError("limit must not be negative")
        self.span_type, self.event_type, self.link_type = span_type, event_type, link_type
        self.kinds, self.codes = kinds, codes
        self.unspecified, self.unset, self.marker = unspecified, unset, marker
        self.limit = limit

    def spans(self, bytes body not None):
        """The spans of a request the protobuf runtime parsed; raises `Unsupported`."""
        cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(body)
        cdef Py_ssize_t end = PyBytes_GET_SIZE(body), i = 0, stop
        cdef uint64_t field
        cdef int wire
        cdef list spans = []
        while i < end:
            i = read_tag(p, i, end, &field, &wire)
            if field == 1:
                expect(wire, LEN)
                i = read_length(p, i, end, &stop)
                self.resource_spans(p, i, stop, spans)
                i = stop
            else:
                i = skip_field(p, i, end, wire)
        return spans

    cdef int resource_spans(
        self, const unsigned char* p, Py_ssize_t i, Py_ssize_t end, list spans
    ) except -1:
        cdef dict resource = {}
        cdef bint scopes_seen = False
        cdef uint64_t field, seen = 0
        cdef int wire
        cdef Py_ssize_t stop
        while i < end:
            i = read_tag(p, i, end, &field, &wire)
            if field == 1:
                expect(wire, LEN)
                if scopes_seen:
                    raise Unsupported("a resource after its spans")
                seen = once(seen, 1)
                i = read_length(p, i, end, &stop)
                self.key_values(p, i, stop, resource)  # Resource: its attributes are field 1
                i = stop
            elif field == 2:
                expect(wire, LEN)
                scopes_seen = True
                i = read_length(p, i, end, &stop)
                self.scope_spans(p, i, stop, resource, spans)
                i = stop
            else:
                i = skip_field(p, i, end, wire)
        return 0

    cdef int scope_spans(
        self, const unsigned char* p, Py_ssize_t i, Py_ssize_t end, dict resource, list spans
    ) except -1:
        cdef str name = "", version = ""
        cdef bint spans_seen = False
        cdef uint64_t field, seen = 0
        cdef int wire
        cdef Py_ssize_t stop
        while i < end:
            i = read_tag(p, i, end, &field, &wire)
            if field == 1:  # InstrumentationScope
                expect(wire, LEN)
                if spans_seen:
                    raise Unsupported("a scope after its spans")
                seen = once(seen, 1)
                i = read_length(p, i, end, &stop)
                name, version = self.scope(p, i, stop)
                i = stop
            elif field == 2:
                expect(wire, LEN)
                spans_seen = True
                i = read_length(p, i, end, &stop)
                spans.append(self.span(p, i, stop, resource, name, version))
                i = stop
            else:
                i = skip_field(p, i, end, wire)
        return 0

    cdef object span(
        self,
        const unsigned char* p,
        Py_ssize_t i,
        Py_ssize_t end,
        dict resource,
        str scope_name,
        str scope_version,
    ):
        cdef Py_ssize_t trace_at = 0, trace_size = 0, span_at = 0, span_size = 0
        cdef Py_ssize_t parent_at = 0, parent_size = 0, stop
        cdef str name = "", trace_state = "", status_message = ""
        cdef uint64_t field, value, seen = 0
        cdef uint64_t start = 0, finish = 0
        cdef int64_t kind = 0, status_code = 0
        cdef uint32_t flags = 0, dropped_attributes = 0, dropped_events = 0, dropped_links = 0
        cdef int wire
        cdef dict attributes = {}
        cdef list events = [], links = []
        cdef Py_ssize_t events_dropped = 0, links_dropped = 0
        while i < end:
            i = read_tag(p, i, end, &field, &wire)
            if field == 9:
                expect(wire, LEN)
                i = read_length(p, i, end, &stop)
                self.key_value(p, i, stop, attributes)
                i = stop
                continue
            if field == 7 or field == 8:
                expect(wire, I64)
                seen = once(seen, field)
                value = read_fixed64(p, i, end)
                i += 8
                if field == 7:
                    start = value
                else:
                    finish = value
                continue
            if field == 6 or field == 10 or field == 12 or field == 14:
                expect(wire, VARINT)
                seen = once(seen, field)
                i = read_varint(p, i, end, &value)
                if field == 6:
                    kind = <int32_t>value
                elif field == 10:
                    dropped_attributes = <uint32_t>value
                elif field == 12:
                    dropped_events = <uint32_t>value
                else:
                    dropped_links = <uint32_t>value
                continue
            if field == 16:
                expect(wire, I32)
                seen = once(seen, field)
                flags = read_fixed32(p, i, end)
                i += 4
                continue
            if field < 1 or field > 15:
                i = skip_field(p, i, end, wire)
                continue
            expect(wire, LEN)
            i = read_length(p, i, end, &stop)
            if field == 11:
                if not self.event(p, i, stop, events):
                    events_dropped += 1
            elif field == 13:
                if not self.link(p, i, stop, links):
                    links_dropped += 1
            else:
                seen = once(seen, field)
                if field == 1:
                    trace_at, trace_size = i, stop - i
                elif field == 2:
                    span_at, span_size = i, stop - i
                elif field == 4:
                    parent_at, parent_size = i, stop - i
                elif field == 5:
                    name = text(p, i, stop)
                elif field == 3:
                    trace_state = text(p, i, stop)
                else:  # 15: Status
                    status_code, status_message = self.status(p, i, stop)
            i = stop
        if not (
            valid_id(p + trace_at, trace_size, 16)
            and valid_id(p + span_at, span_size, 8)
            and (parent_size == 0 or parent_size == 8)
            and 0 < start <= finish <= MAX_TIME
        ):
            raise Unsupported("a span the receiver rejects")
        return self.span_type(
            hex_id(p + trace_at, 16),
            hex_id(p + span_at, 8),
            "" if parent_size == 0 or all_zero(p + parent_at, 8) else hex_id(p + parent_at, 8),
            name,
            self.kinds.get(kind, self.unspecified),
            start,
            finish,
            self.codes.get(status_code, self.unset),
            status_message,
            attributes,
            events,
            links,
            resource,
            scope_name,
            scope_version,
            trace_state,
            flags,
            dropped_attributes,
            dropped_events + events_dropped,
            dropped_links + links_dropped,
        )

    cdef tuple scope(self, const unsigned char* p, Py_ssize_t i, Py_ssize_t end):
        """An ``InstrumentationScope``'s name and version (``""`` when absent)."""
        cdef Py_ssize_t bounds[4]
        first_two_fields(p, i, end, bounds)
        return text(p, bounds[0], bounds[1]), text(p, bounds[2], bounds[3])

    cdef tuple status(self, const unsigned char* p, Py_ssize_t i, Py_ssize_t end):
        """A ``Status``'s code and message."""
        cdef int64_t code = 0
        cdef str message = ""
        cdef uint64_t field, value, seen = 0
        cdef int wire
        cdef Py_ssize_t stop
        while i < end:
            i = read_tag(p, i, end, &field, &wire)
            if field == 2:
                expect(wire, LEN)
                seen = once(seen, 2)
                i = read_length(p, i, end, &stop)
                message = text(p, i, stop)
                i = stop
            elif field == 3:
                expect(wire, VARINT)
                seen = once(seen, 3)
                i = read_varint(p, i, end, &value)
                code = <int32_t>value
            else:
                i = skip_field(p, i, end, wire)
        return code, message

    cdef bint event(
        self, const unsigned char* p, Py_ssize_t i, Py_ssize_t end, list events
    ) except -1:
        """Appends the event; False when it is dropped (a time beyond 2**63-1)."""
        cdef uint64_t field, value, seen = 0, time = 0
        cdef uint32_t dropped = 0
        cdef int wire
        cdef str name = ""
        cdef dict attributes = {}
        cdef Py_ssize_t stop
        while i < end:
            i = read_tag(p, i, end, &field, &wire)
            if field == 1:
                expect(wire, I64)
                seen = once(seen, 1)
                time = read_fixed64(p, i, end)
                i += 8
            elif field == 2 or field == 3:
                expect(wire, LEN)
                i = read_length(p, i, end, &stop)
                if field == 2:
                    seen = once(seen, 2)
                    name = text(p, i, stop)
                else:
                    self.key_value(p, i, stop, attributes)
                i = stop
            elif field == 4:
                expect(wire, VARINT)
                seen = once(seen, 4)
                i = read_varint(p, i, end, &value)
                dropped = <uint32_t>value
            else:
                i = skip_field(p, i, end, wire)
        if time > MAX_TIME:
            return False
        events.append(self.event_type(time, name, attributes, dropped))
        return True

    cdef bint link(
        self, const unsigned char* p, Py_ssize_t i, Py_ssize_t end, list links
    ) except -1:
        """Appends the link; False when it is dropped (bad ids)."""
        cdef uint64_t field, value, seen = 0
        cdef uint32_t dropped = 0, flags = 0
        cdef int wire
        cdef str trace_state = ""
        cdef dict attributes = {}
        cdef Py_ssize_t stop, trace_at = 0, trace_size = 0, span_at = 0, span_size = 0
        while i < end:
            i = read_tag(p, i, end, &field, &wire)
            if 1 <= field <= 4:
                expect(wire, LEN)
                i = read_length(p, i, end, &stop)
                if field == 4:
                    self.key_value(p, i, stop, attributes)
                else:
                    seen = once(seen, field)
                    if field == 1:
                        trace_at, trace_size = i, stop - i
                    elif field == 2:
                        span_at, span_size = i, stop - i
                    else:
                        trace_state = text(p, i, stop)
                i = stop
            elif field == 5:
                expect(wire, VARINT)
                seen = once(seen, 5)
                i = read_varint(p, i, end, &value)
                dropped = <uint32_t>value
            elif field == 6:
                expect(wire, I32)
                seen = once(seen, 6)
                flags = read_fixed32(p, i, end)
                i += 4
            else:
                i = skip_field(p, i, end, wire)
        if not (valid_id(p + trace_at, trace_size, 16) and valid_id(p + span_at, span_size, 8)):
            return False
        links.append(
            self.link_type(
                hex_id(p + trace_at, 16),
                hex_id(p + span_at, 8),
                trace_state,
                attributes,
                flags,
                dropped,
            )
        )
        return True

    cdef int key_value(
        self, const unsigned char* p, Py_ssize_t i, Py_ssize_t end, dict attributes
    ) except -1:
        """One ``KeyValue`` into ``attributes`` (a later one with the same key wins)."""
        cdef Py_ssize_t bounds[4]
        first_two_fields(p, i, end, bounds)
        attributes[text(p, bounds[0], bounds[1])] = self.any_value(p, bounds[2], bounds[3])
        return 0

    cdef object any_value(self, const unsigned char* p, Py_ssize_t i, Py_ssize_t end):
        """An ``AnyValue`` as the Python value of its type (None when empty)."""
        cdef object value = None
        cdef bint found = False
        cdef uint64_t field, number
        cdef int wire
        cdef Py_ssize_t stop, size
        cdef double real
        cdef str string
        while i < end:
            i = read_tag(p, i, end, &field, &wire)
            if field < 1 or field > 8:
                i = skip_field(p, i, end, wire)
                continue
            if found:
                raise Unsupported("two members of a oneof")
            found = True
            if field == 1:
                expect(wire, LEN)
                i = read_length(p, i, end, &stop)
                string = text(p, i, stop)
                value = string if len(string) <= self.limit else string[: self.limit] + self.marker
                i = stop
            elif field == 2 or field == 3 or field == 8:
                expect(wire, VARINT)
                i = read_varint(p, i, end, &number)
                if field == 2:
                    value = number != 0
                elif field == 3:
                    value = <int64_t>number
                # 8 (string_value_strindex) reads as no value, as on the runtime's path
            elif field == 4:
                expect(wire, I64)
                number = read_fixed64(p, i, end)
                memcpy(&real, &number, 8)
                value = real
                i += 8
            else:
                expect(wire, LEN)
                i = read_length(p, i, end, &stop)
                if field == 5:
                    value = self.array(p, i, stop)
                elif field == 6:
                    value = {}
                    self.key_values(p, i, stop, value)
                else:  # 7: bytes
                    size = stop - i
                    if size > self.limit:
                        size = self.limit
                    value = PyBytes_FromStringAndSize(<const char*>(p + i), size)
                i = stop
        return value

    cdef list array(self, const unsigned char* p, Py_ssize_t i, Py_ssize_t end):
        cdef list items = []
        cdef uint64_t field
        cdef int wire
        cdef Py_ssize_t stop
        while i < end:
            i = read_tag(p, i, end, &field, &wire)
            if field == 1:
                expect(wire, LEN)
                i = read_length(p, i, end, &stop)
                items.append(self.any_value(p, i, stop))
                i = stop
            else:
                i = skip_field(p, i, end, wire)
        return items

    cdef int key_values(
        self, const unsigned char* p, Py_ssize_t i, Py_ssize_t end, dict attributes
    ) except -1:
        """The ``KeyValue`` items (field 1) of a ``KeyValueList`` or ``Resource``."""
        cdef uint64_t field
        cdef int wire
        cdef Py_ssize_t stop
        while i < end:
            i = read_tag(p, i, end, &field, &wire)
            if field == 1:
                expect(wire, LEN)
                i = read_length(p, i, end, &stop)
                self.key_value(p, i, stop, attributes)
                i = stop
            else:
                i = skip_field(p, i, end, wire)
        return 0
