namespace Tessera.Trees.Data;

/// <summary>Puts another table's features in a trained model's column order and category codes.</summary>
internal static class FeatureAlignment
{
    /// <summary>Code given to a category the model never saw: it is in no split's set, so it goes right.</summary>
    public const float UnseenCategory = 255f;

    public static float[] Align(IReadOnlyList<FeatureColumn> trained, TabularData data)
    {
        if (ReferenceEquals(trained, data.Columns) || SameSchema(trained, data.Columns)) return data.Features;
        int m = trained.Count, dm = data.ColumnCount;
        var source = new int[m];
        var recode = new float[m][];
        var byText = new Dictionary<string, int>?[m];
        for (int j = 0; j < m; j++)
        {
            var want = trained[j];
            int c = -1;
            for (int k = 0; k < dm; k++) if (data.Columns[k].Name == want.Name) { c = k; break; }
            if (c < 0)
                throw new TabularDataException($"column '{want.Name}' that the model was trained on is missing; the data has: {string.Join(", ", data.Columns.Select(x => x.Name))}.");
            source[j] = c;
            var have = data.Columns[c];
            if (want.IsCategorical && have.IsCategorical)
            {
                var codes = new Dictionary<string, int>();
                for (int i = 0; i < want.Categories.Count; i++) codes[want.Categories[i]] = i;
                recode[j] = have.Categories.Select(name => codes.TryGetValue(name, out int code) ? code : UnseenCategory).ToArray();
            }
            else if (want.IsCategorical)
            {
                // Categories that look like numbers ("1", "2") read as a numeric column here: match them by text.
                byText[j] = new Dictionary<string, int>();
                for (int i = 0; i < want.Categories.Count; i++) byText[j]![want.Categories[i]] = i;
            }
            else if (have.IsCategorical)
            {
                throw new TabularDataException($"column '{want.Name}' was numeric in training but holds text here (e.g. '{have.Categories.FirstOrDefault()}').");
            }
        }
        var result = new float[(long)data.Rows * m];
        for (int r = 0; r < data.Rows; r++)
        {
            var row = data.Row(r);
            for (int j = 0; j < m; j++)
            {
                float v = row[source[j]];
                if (recode[j] is { } map && !float.IsNaN(v)) v = v >= 0 && v < map.Length ? map[(int)v] : UnseenCategory;
                else if (byText[j] is { } text && !float.IsNaN(v))
                    v = text.TryGetValue(v.ToString(System.Globalization.CultureInfo.InvariantCulture), out int code) ? code : UnseenCategory;
                result[(long)r * m + j] = v;
            }
        }
        return result;
    }

    private static bool SameSchema(IReadOnlyList<FeatureColumn> a, IReadOnlyList<FeatureColumn> b)
    {
        if (a.Count != b.Count) return false;
        for (int i = 0; i < a.Count; i++)
        {
            if (a[i].Name != b[i].Name || a[i].IsCategorical != b[i].IsCategorical) return false;
            if (a[i].IsCategorical && !a[i].Categories.SequenceEqual(b[i].Categories)) return false;
        }
        return true;
    }
}
