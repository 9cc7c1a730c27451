using System.Buffers;
using System.Text.Json;

namespace Tessera.Serving.Protocol;

/// <summary>
/// Parses an Open Inference Protocol JSON request in one forward pass of a <see cref="Utf8JsonReader"/>, decoding
/// each input's <c>data</c> straight into its tensor buffer: no <see cref="JsonDocument"/> is built (for a 1.6 MB
/// image request that document, and the second walk over it, were most of the decode time). The body may be one
/// buffer or several segments. Keys come in any order: a tensor's <c>data</c> seen before its name, datatype and
/// shape is skipped and decoded from a saved reader once the tensor's object ends. A structural key given twice in
/// one object (<c>inputs</c>, <c>data</c>, <c>shape</c> ...) is refused; parameter maps take the last value.
/// </summary>
internal static class OipJsonRequestReader
{
    public static InferRequest Parse(ReadOnlySequence<byte> body, long? headerLength, string model, string? version, RentedBuffers? rented)
    {
        ReadOnlySequence<byte> json = body, binary = ReadOnlySequence<byte>.Empty;
        if (headerLength is long h)
        {
            if (h <= 0 || h > body.Length)
                throw InferenceException.BadRequest($"Inference-Header-Content-Length is {h} but the body has {body.Length} bytes");
            json = body.Slice(0, h);
            binary = body.Slice(h);
        }
        var state = new State(binary, headerLength is not null, json.Length / 2 + 1, rented);
        var r = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 64 });
        try
        {
            var request = ReadRoot(ref r, state, model, version);
            r.Read(); // anything but whitespace after the object throws
            return request;
        }
        catch (JsonException e) { throw InferenceException.BadRequest($"malformed JSON in the request: {e.Message}"); }
        // GetString on a name or id that is not valid UTF-8.
        catch (InvalidOperationException e) { throw InferenceException.BadRequest($"the request holds an unreadable string: {e.Message}"); }
    }

    /// <summary>What every input of one request shares.</summary>
    private sealed class State(ReadOnlySequence<byte> binary, bool hasHeader, long maxElements, RentedBuffers? rented)
    {
        public readonly ReadOnlySequence<byte> Binary = binary;
        public readonly bool HasHeader = hasHeader;
        public readonly long MaxElements = maxElements; // a number and a comma each: what the JSON could hold
        public readonly RentedBuffers? Rented = rented;
        public long Cursor; // binary bytes taken by the inputs so far
    }

    private static InferRequest ReadRoot(ref Utf8JsonReader r, State state, string model, string? version)
    {
        r.Read();
        if (r.TokenType != JsonTokenType.StartObject) throw InferenceException.BadRequest("the request must be a JSON object");
        string? id = null;
        bool binaryOut = false;
        TimeSpan? timeout = null;
        List<InferTensor>? inputs = null;
        List<(string Name, bool? Binary)>? outputs = null;
        var seen = new Seen("the request");
        while (NextProperty(ref r))
        {
            if (r.ValueTextEquals("inputs"u8))
            {
                seen.Once(0, "inputs");
                r.Read();
                if (r.TokenType != JsonTokenType.StartArray) throw InferenceException.BadRequest("the request has no 'inputs' array");
                inputs = ReadInputs(ref r, state);
            }
            else if (r.ValueTextEquals("id"u8))
            {
                seen.Once(1, "id");
                r.Read();
                id = r.TokenType == JsonTokenType.String ? r.GetString() : null;
                r.Skip();
            }
            else if (r.ValueTextEquals("parameters"u8))
            {
                seen.Once(2, "parameters");
                r.Read();
                if (r.TokenType == JsonTokenType.StartObject) ReadRequestParameters(ref r, ref binaryOut, ref timeout);
                else r.Skip();
            }
            else if (r.ValueTextEquals("outputs"u8))
            {
                seen.Once(3, "outputs");
                r.Read();
                if (r.TokenType == JsonTokenType.StartArray) outputs = ReadOutputs(ref r);
                else r.Skip();
            }
            else r.Skip();
        }
        if (inputs is null) throw InferenceException.BadRequest("the request has no 'inputs' array");
        if (state.Cursor != state.Binary.Length)
            throw InferenceException.BadRequest($"{state.Binary.Length - state.Cursor} bytes after the JSON header belong to no input (binary_data_size values add up to {state.Cursor})");
        return new InferRequest
        {
            ModelName = model, ModelVersion = version, Id = id, Inputs = inputs, BinaryOutputs = binaryOut, Timeout = timeout,
            // An output's binary_data defaults to the request's binary_data_output, which may come after "outputs".
            Outputs = outputs?.Select(o => new RequestedOutput(o.Name, o.Binary ?? binaryOut)).ToList(),
        };
    }

    /// <summary>Moves to the next property name of the current object; false at its end.</summary>
    private static bool NextProperty(ref Utf8JsonReader r)
    {
        r.Read();
        return r.TokenType == JsonTokenType.PropertyName;
    }

    private static void ReadRequestParameters(ref Utf8JsonReader r, ref bool binaryOut, ref TimeSpan? timeout)
    {
        while (NextProperty(ref r))
        {
            if (r.ValueTextEquals("binary_data_output"u8))
            {
                r.Read();
                binaryOut = r.TokenType == JsonTokenType.True;
            }
            else if (r.ValueTextEquals("timeout"u8))
            {
                r.Read();
                // Past TimeSpan's range (FromMicroseconds would throw, a 500) it is no limit: the server's own applies.
                if (r.TokenType == JsonTokenType.Number && r.TryGetInt64(out long us) && us > 0 && us <= TimeSpan.MaxValue.Ticks / TimeSpan.TicksPerMicrosecond)
                    timeout = TimeSpan.FromMicroseconds(us);
            }
            r.Skip();
        }
    }

    private static List<(string, bool?)> ReadOutputs(ref Utf8JsonReader r)
    {
        var outputs = new List<(string, bool?)>();
        while (true)
        {
            r.Read();
            if (r.TokenType == JsonTokenType.EndArray) return outputs;
            string? name = null;
            bool? binary = null;
            if (r.TokenType == JsonTokenType.StartObject)
                while (NextProperty(ref r))
                {
                    if (r.ValueTextEquals("name"u8))
                    {
                        r.Read();
                        if (r.TokenType == JsonTokenType.String) name = r.GetString();
                    }
                    else if (r.ValueTextEquals("parameters"u8))
                    {
                        r.Read();
                        if (r.TokenType == JsonTokenType.StartObject)
                            while (NextProperty(ref r))
                            {
                                bool isBinary = r.ValueTextEquals("binary_data"u8);
                                r.Read();
                                if (isBinary) binary = r.TokenType == JsonTokenType.True;
                                r.Skip();
                            }
                    }
                    r.Skip();
                }
            outputs.Add((name ?? throw InferenceException.BadRequest("each entry of 'outputs' needs a 'name'"), binary));
        }
    }

    private static List<InferTensor> ReadInputs(ref Utf8JsonReader r, State state)
    {
        var inputs = new List<InferTensor>();
        while (true)
        {
            r.Read();
            if (r.TokenType == JsonTokenType.EndArray) return inputs;
            if (r.TokenType != JsonTokenType.StartObject) throw InferenceException.BadRequest("each entry of 'inputs' must be an object");
            var tensor = ReadInput(ref r, state, inputs.Count);
            tensor.Validate();
            inputs.Add(tensor);
        }
    }

    private static InferTensor ReadInput(ref Utf8JsonReader r, State state, int index)
    {
        string? name = null, datatype = null, badShape = null;
        List<long>? shape = null;
        long? binarySize = null;
        bool badBinarySize = false, hasData = false, deferred = false;
        Utf8JsonReader savedData = default;
        ReadOnlyMemory<byte> data = default;
        long count = 0;
        var seen = new Seen($"input {index}");
        while (NextProperty(ref r))
        {
            if (r.ValueTextEquals("data"u8))
            {
                seen.Once(0, "data");
                r.Read();
                hasData = true;
                if (name is not null && datatype is not null && shape is not null && badShape is null)
                {
                    // The usual order (name, datatype, shape, data): decode now, in the same pass.
                    var type = DataTypes.Parse(datatype, name);
                    long expected = OipJson.ElementCount([.. shape], name);
                    data = JsonTensorReader.Read(ref r, type, name, expected, state.MaxElements, state.Rented, out count);
                }
                else
                {
                    savedData = r; // a copy of the reader, positioned on the data's first token
                    deferred = true;
                    r.Skip();
                }
                continue;
            }
            if (r.ValueTextEquals("name"u8))
            {
                seen.Once(1, "name");
                r.Read();
                if (r.TokenType == JsonTokenType.String) name = r.GetString();
            }
            else if (r.ValueTextEquals("datatype"u8))
            {
                seen.Once(2, "datatype");
                r.Read();
                if (r.TokenType == JsonTokenType.String) datatype = r.GetString();
            }
            else if (r.ValueTextEquals("shape"u8))
            {
                seen.Once(3, "shape");
                r.Read();
                if (r.TokenType == JsonTokenType.StartArray) shape = ReadShape(ref r, out badShape);
            }
            else if (r.ValueTextEquals("parameters"u8))
            {
                seen.Once(4, "parameters");
                r.Read();
                if (r.TokenType == JsonTokenType.StartObject)
                    while (NextProperty(ref r))
                    {
                        bool isSize = r.ValueTextEquals("binary_data_size"u8);
                        r.Read();
                        if (isSize)
                        {
                            binarySize = r.TokenType == JsonTokenType.Number && r.TryGetInt64(out long size) && size >= 0 ? size : null;
                            badBinarySize = binarySize is null;
                        }
                        r.Skip();
                    }
            }
            r.Skip();
        }

        // Checked in this order whatever order the keys came in, so the first problem reported does not depend on it.
        if (name is null) throw InferenceException.BadRequest($"input {index} has no 'name'");
        var dataType = DataTypes.Parse(datatype ?? throw InferenceException.BadRequest($"input '{name}' has no 'datatype'"), name);
        if (shape is null) throw InferenceException.BadRequest($"input '{name}' has no 'shape' array");
        if (badShape is not null) throw InferenceException.BadRequest($"input '{name}' shape must hold non-negative integers, got {badShape}");
        long[] dims = [.. shape];
        if (badBinarySize) throw InferenceException.BadRequest($"input '{name}': binary_data_size must be a non-negative integer");
        if (binarySize is long n) // the binary data wins over any "data" (which is then ignored)
            return new InferTensor(name, dataType, dims, TakeBinary(state, name, n));
        if (!hasData) throw InferenceException.BadRequest($"input '{name}' has neither 'data' nor a binary_data_size parameter");
        long elements = OipJson.ElementCount(dims, name);
        if (deferred) data = JsonTensorReader.Read(ref savedData, dataType, name, elements, state.MaxElements, state.Rented, out count);
        if (count != elements)
            throw InferenceException.BadRequest($"input '{name}' has shape [{string.Join(",", dims)}] ({elements} elements) but its data holds {count}");
        return new InferTensor(name, dataType, dims, data);
    }

    private static List<long> ReadShape(ref Utf8JsonReader r, out string? bad)
    {
        bad = null;
        var shape = new List<long>(4);
        while (true)
        {
            r.Read();
            if (r.TokenType == JsonTokenType.EndArray) return shape;
            if (r.TokenType == JsonTokenType.Number && r.TryGetInt64(out long d) && d >= 0) shape.Add(d);
            else bad ??= JsonTensorReader.Show(ref r);
            r.Skip();
        }
    }

    private static ReadOnlyMemory<byte> TakeBinary(State state, string name, long n)
    {
        if (!state.HasHeader)
            throw InferenceException.BadRequest($"input '{name}' has binary_data_size but the request has no Inference-Header-Content-Length header");
        long left = state.Binary.Length - state.Cursor;
        if (n > left)
            throw InferenceException.BadRequest($"input '{name}': binary_data_size {n} runs past the end of the body ({left} bytes remain)");
        var slice = state.Binary.Slice(state.Cursor, n);
        state.Cursor += n;
        if (slice.IsSingleSegment) return slice.First;
        // Split across segments (a body that was not read into one buffer): the tensor needs contiguous bytes.
        var copy = state.Rented?.Rent((int)n) ?? new byte[n];
        slice.CopyTo(copy);
        return copy.AsMemory(0, (int)n);
    }

    /// <summary>Which structural keys of one JSON object have been seen; a second one is refused.</summary>
    private struct Seen(string owner)
    {
        private int _bits;

        public void Once(int key, string name)
        {
            if ((_bits & (1 << key)) != 0) throw InferenceException.BadRequest($"{owner} has '{name}' twice");
            _bits |= 1 << key;
        }
    }
}
