using System.Text;

namespace Tessera.Text.Classification;

/// <summary>Reads (text, label) examples from a CSV with a header naming a "text" and a "label" column (RFC 4180 quoting).</summary>
public static class LabelledTextCsv
{
    /// <summary>Reads all examples from a file; invalid UTF-8 becomes U+FFFD, a malformed row raises <see cref="FormatException"/> naming its line.</summary>
    public static List<(string Text, string Label)> ReadFile(string path)
    {
        using var reader = TextLines.Open(File.OpenRead(path));
        return Read(reader, path);
    }

    public static List<(string Text, string Label)> Read(TextReader reader, string sourceName)
    {
        var rows = new List<(string, string)>();
        int line = 1;
        var header = ReadRecord(reader, ref line);
        if (header == null) throw new FormatException($"{sourceName}: empty file, expected a header with 'text' and 'label' columns");
        int ti = header.FindIndex(h => h.Trim().Equals("text", StringComparison.OrdinalIgnoreCase));
        int li = header.FindIndex(h => h.Trim().Equals("label", StringComparison.OrdinalIgnoreCase));
        if (ti < 0 || li < 0) throw new FormatException($"{sourceName} line 1: the header must name a 'text' and a 'label' column (got {string.Join(",", header)})");
        while (true)
        {
            int start = line;
            var rec = ReadRecord(reader, ref line);
            if (rec == null) break;
            if (rec.Count == 1 && rec[0].Length == 0) continue; // blank line
            if (rec.Count <= Math.Max(ti, li)) throw new FormatException($"{sourceName} line {start}: {rec.Count} fields, expected at least {Math.Max(ti, li) + 1}");
            if (rec[li].Length == 0) throw new FormatException($"{sourceName} line {start}: empty label");
            rows.Add((rec[ti], rec[li]));
        }
        return rows;
    }

    private static List<string>? ReadRecord(TextReader r, ref int line)
    {
        int c = r.Peek();
        if (c < 0) return null;
        var fields = new List<string>();
        var sb = new StringBuilder();
        bool quoted = false, wasQuoted = false;
        while (true)
        {
            c = r.Read();
            if (c < 0)
            {
                if (quoted) throw new FormatException($"line {line}: unterminated quoted field");
                fields.Add(sb.ToString());
                return fields;
            }
            char ch = (char)c;
            if (quoted)
            {
                if (ch == '"')
                {
                    if (r.Peek() == '"') { r.Read(); sb.Append('"'); }
                    else quoted = false;
                }
                else
                {
                    if (ch == '\n') line++;
                    sb.Append(ch);
                }
                continue;
            }
            switch (ch)
            {
                case '"' when sb.Length == 0 && !wasQuoted: quoted = wasQuoted = true; break;
                case ',': fields.Add(sb.ToString()); sb.Clear(); wasQuoted = false; break;
                case '\r': break;
                case '\n': line++; fields.Add(sb.ToString()); return fields;
                default: sb.Append(ch); break;
            }
        }
    }
}
