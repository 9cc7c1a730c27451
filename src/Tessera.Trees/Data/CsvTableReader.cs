using System.Globalization;
using System.IO.Compression;
using System.Text;

namespace Tessera.Trees.Data;

/// <summary>Options for <see cref="CsvTableReader"/>.</summary>
public sealed record CsvReadOptions
{
    /// <summary>Name of the label column (default: the last column).</summary>
    public string? Label { get; init; }
    /// <summary>Field separator; null = tab for .tsv files, otherwise guessed from the header (tab, comma or semicolon).</summary>
    public char? Separator { get; init; }
    /// <summary>Columns to treat as categorical even when their cells look like numbers.</summary>
    public IReadOnlyCollection<string> Categorical { get; init; } = Array.Empty<string>();
    /// <summary>Columns to drop (e.g. an id column).</summary>
    public IReadOnlyCollection<string> Ignore { get; init; } = Array.Empty<string>();
    /// <summary>Labels must be numbers (regression); otherwise a text label column is read as class names.</summary>
    public bool NumericLabel { get; init; }
    /// <summary>The file has no label column (data to predict on): every column is a feature and labels are 0.</summary>
    public bool NoLabel { get; init; }
}

/// <summary>
/// Reads a CSV/TSV file with a header row into <see cref="TabularData"/>.
/// </summary>
/// <remarks>
/// A column is categorical when it is listed in <see cref="CsvReadOptions.Categorical"/> or when its first
/// non-missing cell is not a number; a numeric column that later holds text is an error naming the row and column.
/// Missing cells: empty, NA, N/A, NaN, null, ? (any case). Quoted fields ("a,b" and "" escapes) are supported
/// within one line. Files ending in .gz are decompressed.
/// </remarks>
public static class CsvTableReader
{
    public static TabularData ReadFile(string path, CsvReadOptions? options = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"data file '{path}' does not exist.", path);
        using Stream file = File.OpenRead(path);
        using Stream s = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
        using var reader = new StreamReader(s, Encoding.UTF8);
        char? sep = options?.Separator;
        string bare = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? path[..^3] : path;
        if (sep is null && bare.EndsWith(".tsv", StringComparison.OrdinalIgnoreCase)) sep = '\t';
        return Read(reader, new CsvReadOptions
        {
            Label = options?.Label, Separator = sep, Categorical = options?.Categorical ?? Array.Empty<string>(),
            Ignore = options?.Ignore ?? Array.Empty<string>(), NumericLabel = options?.NumericLabel ?? false, NoLabel = options?.NoLabel ?? false,
        }, Path.GetFileName(path));
    }

    public static TabularData ReadText(string text, CsvReadOptions? options = null) =>
        Read(new StringReader(text), options ?? new CsvReadOptions(), "<text>");

    private enum Kind { Unknown, Numeric, Categorical }

    private static TabularData Read(TextReader reader, CsvReadOptions options, string source)
    {
        string? header = reader.ReadLine();
        while (header is not null && header.Trim().Length == 0) header = reader.ReadLine();
        if (header is null) throw new TabularDataException($"{source} is empty: expected a header row and data rows.");
        char sep = options.Separator ?? GuessSeparator(header);
        var names = SplitLine(header, sep, 1, source).Select(h => h.Trim()).ToList();
        for (int i = 0; i < names.Count; i++)
            if (names[i].Length == 0) names[i] = "column" + (i + 1);
        var dup = names.GroupBy(n => n).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new TabularDataException($"{source}: the header names column '{dup.Key}' twice.");

        string labelName = options.NoLabel ? "label" : options.Label ?? names[^1];
        int labelCol = options.NoLabel ? -1 : names.IndexOf(labelName);
        if (labelCol < 0 && !options.NoLabel)
            throw new TabularDataException($"{source}: label column '{labelName}' not found; the header has: {string.Join(", ", names)}.");
        foreach (var c in options.Categorical.Concat(options.Ignore))
            if (!names.Contains(c)) throw new TabularDataException($"{source}: column '{c}' not found; the header has: {string.Join(", ", names)}.");

        var featureCols = Enumerable.Range(0, names.Count).Where(i => i != labelCol && !options.Ignore.Contains(names[i])).ToArray();
        int m = featureCols.Length;
        var kinds = new Kind[names.Count];
        foreach (int c in featureCols) kinds[c] = options.Categorical.Contains(names[c]) ? Kind.Categorical : Kind.Unknown;
        var categories = new Dictionary<string, int>[names.Count];
        var categoryNames = new List<string>[names.Count];
        for (int c = 0; c < names.Count; c++) { categories[c] = new(StringComparer.Ordinal); categoryNames[c] = new(); }
        var firstNumericRow = new int[names.Count];

        var features = new List<float>(1024);
        var labels = new List<double>();
        var labelText = new Dictionary<string, int>(StringComparer.Ordinal);
        var labelTextNames = new List<string>();
        bool labelIsText = false, labelIsNumber = false;
        int row = 0;
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            if (line.Length == 0 || (line.Trim().Length == 0)) continue;
            row++;
            var cells = SplitLine(line, sep, row, source);
            if (cells.Count != names.Count)
                throw new TabularDataException($"{source}: row {row} has {cells.Count} cells, but the header has {names.Count} columns.");
            foreach (int c in featureCols)
            {
                string cell = cells[c].Trim();
                if (IsMissing(cell)) { features.Add(float.NaN); continue; }
                if (kinds[c] == Kind.Unknown)
                {
                    kinds[c] = float.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out _) ? Kind.Numeric : Kind.Categorical;
                    firstNumericRow[c] = row;
                }
                if (kinds[c] == Kind.Numeric)
                {
                    if (!float.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out float v))
                        throw new TabularDataException(
                            $"{source}: row {row}, column '{names[c]}': '{cell}' is not a number (the column is numeric since row {firstNumericRow[c]}; " +
                            "declare it categorical if it holds categories).");
                    features.Add(v);
                }
                else
                {
                    if (!categories[c].TryGetValue(cell, out int code))
                    {
                        code = categories[c].Count;
                        if (code >= 254)
                            throw new TabularDataException($"{source}: row {row}, column '{names[c]}': more than 254 categories; at most 254 are supported.");
                        categories[c][cell] = code;
                        categoryNames[c].Add(cell);
                    }
                    features.Add(code);
                }
            }
            if (labelCol < 0) { labels.Add(0); continue; }
            string lab = cells[labelCol].Trim();
            if (IsMissing(lab) && !lab.Equals("nan", StringComparison.OrdinalIgnoreCase))
                throw new TabularDataException($"{source}: row {row}, label column '{labelName}' is missing.");
            if (double.TryParse(lab, NumberStyles.Float, CultureInfo.InvariantCulture, out double y) && !labelIsText)
            {
                if (!double.IsFinite(y))
                    throw new TabularDataException($"{source}: row {row}, label column '{labelName}' is {lab}; labels must be finite numbers.");
                labelIsNumber = true;
                labels.Add(y);
            }
            else
            {
                if (options.NumericLabel || labelIsNumber)
                    throw new TabularDataException($"{source}: row {row}, label column '{labelName}': '{lab}' is not a number.");
                labelIsText = true;
                if (!labelText.TryGetValue(lab, out int code)) { code = labelText.Count; labelText[lab] = code; labelTextNames.Add(lab); }
                labels.Add(code);
            }
        }
        if (row == 0) throw new TabularDataException($"{source} has a header but no data rows.");

        var columns = featureCols.Select(c => kinds[c] == Kind.Categorical
            ? new FeatureColumn(names[c], true, categoryNames[c].ToArray())
            : FeatureColumn.Numeric(names[c])).ToArray();
        return new TabularData(features.ToArray(), row, columns, labels.ToArray(), labelName, labelIsText ? labelTextNames : null);
    }

    private static bool IsMissing(string cell) =>
        cell.Length == 0 || cell == "?" || cell.Equals("NA", StringComparison.OrdinalIgnoreCase) || cell.Equals("N/A", StringComparison.OrdinalIgnoreCase)
        || cell.Equals("NaN", StringComparison.OrdinalIgnoreCase) || cell.Equals("null", StringComparison.OrdinalIgnoreCase);

    private static char GuessSeparator(string header)
    {
        int tabs = header.Count(ch => ch == '\t'), commas = header.Count(ch => ch == ','), semis = header.Count(ch => ch == ';');
        if (tabs >= commas && tabs >= semis && tabs > 0) return '\t';
        return semis > commas ? ';' : ',';
    }

    private static List<string> SplitLine(string line, char sep, int row, string source)
    {
        var cells = new List<string>();
        var sb = new StringBuilder();
        int i = 0;
        while (true)
        {
            sb.Clear();
            if (i < line.Length && line[i] == '"')
            {
                i++;
                while (true)
                {
                    if (i >= line.Length) throw new TabularDataException($"{source}: row {row} has an unterminated quoted field.");
                    if (line[i] == '"')
                    {
                        if (i + 1 < line.Length && line[i + 1] == '"') { sb.Append('"'); i += 2; continue; }
                        i++;
                        break;
                    }
                    sb.Append(line[i++]);
                }
                while (i < line.Length && line[i] != sep) sb.Append(line[i++]);
            }
            else
            {
                int start = i;
                while (i < line.Length && line[i] != sep) i++;
                sb.Append(line, start, i - start);
            }
            cells.Add(sb.ToString());
            if (i >= line.Length) break;
            i++; // separator
        }
        return cells;
    }
}
