using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Tessera.Serving.Repository;

/// <summary>
/// A parsed protobuf message in generic form: each field name maps to its values in order (a scalar as its
/// text, a nested message as <see cref="ProtoMessage"/>). Both Triton's text format (config.pbtxt) and its JSON
/// form (config.json) parse into it, so <see cref="ModelConfig"/> reads one shape.
/// </summary>
public sealed class ProtoMessage
{
    private readonly Dictionary<string, List<object>> _fields = new(StringComparer.Ordinal);

    public void Add(string field, object value)
    {
        if (!_fields.TryGetValue(field, out var list)) _fields[field] = list = [];
        list.Add(value);
    }

    public IReadOnlyList<object> All(string field) => _fields.TryGetValue(field, out var l) ? l : [];
    public IEnumerable<ProtoMessage> Messages(string field) => All(field).OfType<ProtoMessage>();
    public ProtoMessage? Message(string field) => Messages(field).LastOrDefault();
    public string? Scalar(string field) => All(field).LastOrDefault(v => v is string) as string;
    public IEnumerable<string> Scalars(string field) => All(field).OfType<string>();
    public bool Has(string field) => _fields.ContainsKey(field);

    public long Int(string field, long fallback) =>
        Scalar(field) is { } s ? long.Parse(s, NumberStyles.Integer, CultureInfo.InvariantCulture) : fallback;

    public bool Bool(string field, bool fallback) => Scalar(field) is { } s ? s is "true" or "True" or "1" : fallback;

    /// <summary>Converts a JSON object (protobuf's JSON mapping) to the same generic form.</summary>
    public static ProtoMessage FromJson(JsonElement obj)
    {
        var m = new ProtoMessage();
        foreach (var p in obj.EnumerateObject()) AddJson(m, p.Name, p.Value);
        return m;
    }

    private static void AddJson(ProtoMessage m, string name, JsonElement v)
    {
        switch (v.ValueKind)
        {
            case JsonValueKind.Array: foreach (var e in v.EnumerateArray()) AddJson(m, name, e); break;
            case JsonValueKind.Object:
                // protobuf JSON writes a map as an object; text format writes it as repeated {key, value} entries.
                if (name is "parameters")
                    foreach (var p in v.EnumerateObject())
                    {
                        var entry = new ProtoMessage();
                        entry.Add("key", p.Name);
                        entry.Add("value", p.Value.ValueKind == JsonValueKind.Object ? FromJson(p.Value) : Wrap(p.Value));
                        m.Add(name, entry);
                    }
                else m.Add(name, FromJson(v));
                break;
            case JsonValueKind.String: m.Add(name, v.GetString()!); break;
            case JsonValueKind.Number: m.Add(name, v.GetRawText()); break;
            case JsonValueKind.True: m.Add(name, "true"); break;
            case JsonValueKind.False: m.Add(name, "false"); break;
        }
    }

    private static ProtoMessage Wrap(JsonElement scalar)
    {
        var m = new ProtoMessage();
        m.Add("string_value", scalar.ValueKind == JsonValueKind.String ? scalar.GetString()! : scalar.GetRawText());
        return m;
    }
}

/// <summary>
/// Parses protobuf text format (the subset model configs use: scalars, enums, strings, nested messages with or
/// without a colon, list values <c>[a, b]</c>, lists of messages, <c>#</c> comments) without a schema.
/// </summary>
public static class TextProto
{
    public static ProtoMessage Parse(string text)
    {
        var p = new Parser(text);
        var m = p.ParseFields(endChar: null);
        return m;
    }

    private sealed class Parser(string s)
    {
        private int _i;
        private int _line = 1;

        private FormatException Error(string what) => new($"config.pbtxt line {_line}: {what}");

        public ProtoMessage ParseFields(char? endChar)
        {
            var m = new ProtoMessage();
            while (true)
            {
                Skip();
                if (_i >= s.Length)
                {
                    if (endChar is not null) throw Error($"missing '{endChar}'");
                    return m;
                }
                if (endChar is { } e && s[_i] == e) { _i++; return m; }
                string name = Identifier();
                Skip();
                bool colon = Peek() == ':';
                if (colon) { _i++; Skip(); }
                char c = Peek();
                if (c is '{' or '<') { _i++; m.Add(name, ParseFields(c == '{' ? '}' : '>')); }
                else if (c == '[')
                {
                    _i++;
                    Skip();
                    if (Peek() == ']') { _i++; }
                    else
                        while (true)
                        {
                            Skip();
                            if (Peek() is '{' or '<') { char open = s[_i++]; m.Add(name, ParseFields(open == '{' ? '}' : '>')); }
                            else m.Add(name, Scalar());
                            Skip();
                            if (Peek() == ',') { _i++; continue; }
                            if (Peek() == ']') { _i++; break; }
                            throw Error($"expected ',' or ']' in the list for '{name}'");
                        }
                }
                else if (!colon) throw Error($"expected ':' or '{{' after '{name}'");
                else m.Add(name, Scalar());
                Skip();
                if (Peek() is ',' or ';') _i++;
            }
        }

        private char Peek() => _i < s.Length ? s[_i] : '\0';

        private void Skip()
        {
            while (_i < s.Length)
            {
                char c = s[_i];
                if (c == '\n') { _line++; _i++; }
                else if (char.IsWhiteSpace(c)) _i++;
                else if (c == '#') { while (_i < s.Length && s[_i] != '\n') _i++; }
                else break;
            }
        }

        private string Identifier()
        {
            int start = _i;
            while (_i < s.Length && (char.IsLetterOrDigit(s[_i]) || s[_i] is '_' or '.')) _i++;
            if (_i == start) throw Error($"expected a field name, found '{Peek()}'");
            return s[start.._i];
        }

        private string Scalar()
        {
            char c = Peek();
            if (c is '"' or '\'')
            {
                var sb = new StringBuilder();
                // Adjacent string literals concatenate, as in protobuf text format.
                while (Peek() is '"' or '\'')
                {
                    char quote = s[_i++];
                    while (true)
                    {
                        if (_i >= s.Length) throw Error("unterminated string");
                        char ch = s[_i++];
                        if (ch == quote) break;
                        if (ch == '\\' && _i < s.Length)
                        {
                            char esc = s[_i++];
                            sb.Append(esc switch { 'n' => '\n', 't' => '\t', 'r' => '\r', _ => esc });
                        }
                        else sb.Append(ch);
                    }
                    Skip();
                }
                return sb.ToString();
            }
            int start = _i;
            while (_i < s.Length && (char.IsLetterOrDigit(s[_i]) || s[_i] is '_' or '.' or '-' or '+')) _i++;
            if (_i == start) throw Error($"expected a value, found '{c}'");
            return s[start.._i];
        }
    }
}
