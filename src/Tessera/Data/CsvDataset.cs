using System.Globalization;

namespace Tessera.Data;

/// <summary>
/// Reads a classification dataset from CSV with a header row: one label column (class names or integers; classes are
/// numbered in sorted order of their names) and numeric feature columns. Bad cells name their row and column.
/// </summary>
public static class CsvDataset
{
    public static (InMemoryDataset Data, string[] Classes) Read(string path, string labelColumn, char separator = ',')
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"CSV file not found: {path}", path);
        using var reader = new StreamReader(path);
        var header = reader.ReadLine() ?? throw new InvalidDataException($"{path} is empty (expected a header row).");
        var names = header.Split(separator).Select(n => n.Trim()).ToArray();
        int labelIndex = Array.IndexOf(names, labelColumn);
        if (labelIndex < 0)
            throw new InvalidDataException($"{path}: no label column '{labelColumn}' (columns: {string.Join(", ", names)}).");
        var features = new List<float>();
        var rawLabels = new List<string>();
        string? line;
        int row = 1;
        while ((line = reader.ReadLine()) is not null)
        {
            row++;
            if (line.Length == 0) continue;
            var cells = line.Split(separator);
            if (cells.Length != names.Length)
                throw new InvalidDataException($"{path}: row {row} has {cells.Length} cells, the header has {names.Length}.");
            for (int c = 0; c < cells.Length; c++)
            {
                if (c == labelIndex) { rawLabels.Add(cells[c].Trim()); continue; }
                if (!float.TryParse(cells[c], NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
                    throw new InvalidDataException($"{path}: row {row}, column '{names[c]}': '{cells[c]}' is not a number.");
                features.Add(v);
            }
        }
        if (rawLabels.Count == 0) throw new InvalidDataException($"{path} has a header but no data rows.");
        var classes = rawLabels.Distinct().OrderBy(s => s, StringComparer.Ordinal).ToArray();
        if (classes.All(c => long.TryParse(c, NumberStyles.Integer, CultureInfo.InvariantCulture, out _)))
            classes = [.. classes.OrderBy(c => long.Parse(c, CultureInfo.InvariantCulture))];
        var index = classes.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => (long)p.i);
        var labels = rawLabels.Select(l => index[l]).ToArray();
        return (new InMemoryDataset([.. features], labels, [names.Length - 1]), classes);
    }
}
