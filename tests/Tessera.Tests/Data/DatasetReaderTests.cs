using Tessera.Data;

namespace Tessera.Tests.Data;

public class DatasetReaderTests
{
    [Fact]
    public void Csv_reader_maps_class_names_and_reads_features_in_order()
    {
        var dir = Directory.CreateTempSubdirectory("tessera-csv-").FullName;
        try
        {
            var path = Path.Combine(dir, "iris.csv");
            File.WriteAllText(path, "sepal,species,petal\n5.1,setosa,1.4\n7.0,versicolor,4.7\n4.9,setosa,1.5\n");
            var (data, classes) = CsvDataset.Read(path, "species");
            Assert.Equal(["setosa", "versicolor"], classes);
            Assert.Equal(3, data.Count);
            Assert.Equal([2], data.SampleShape);
            var f = new float[2];
            Assert.Equal(1, data.Read(1, f));
            Assert.Equal([7.0f, 4.7f], f);
            Assert.Equal(0, data.Read(2, f));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Csv_reader_names_the_bad_cell_the_missing_column_and_an_empty_file()
    {
        var dir = Directory.CreateTempSubdirectory("tessera-csv-").FullName;
        try
        {
            var path = Path.Combine(dir, "bad.csv");
            File.WriteAllText(path, "a,label\n1,x\noops,y\n");
            var e = Assert.Throws<InvalidDataException>(() => CsvDataset.Read(path, "label"));
            Assert.Contains("row 3", e.Message);
            Assert.Contains("column 'a'", e.Message);
            Assert.Contains("no label column 'target'", Assert.Throws<InvalidDataException>(() => CsvDataset.Read(path, "target")).Message);
            File.WriteAllText(path, "");
            Assert.Contains("empty", Assert.Throws<InvalidDataException>(() => CsvDataset.Read(path, "label")).Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>A 24-bit BMP (which StbImageSharp decodes) filled with one colour.</summary>
    private static void WriteBmp(string path, int w, int h, byte r, byte g, byte b)
    {
        int rowBytes = (w * 3 + 3) & ~3, size = 54 + rowBytes * h;
        var bytes = new byte[size];
        bytes[0] = (byte)'B'; bytes[1] = (byte)'M';
        BitConverter.GetBytes(size).CopyTo(bytes, 2);
        BitConverter.GetBytes(54).CopyTo(bytes, 10);
        BitConverter.GetBytes(40).CopyTo(bytes, 14);
        BitConverter.GetBytes(w).CopyTo(bytes, 18);
        BitConverter.GetBytes(h).CopyTo(bytes, 22);
        BitConverter.GetBytes((short)1).CopyTo(bytes, 26);
        BitConverter.GetBytes((short)24).CopyTo(bytes, 28);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int o = 54 + y * rowBytes + x * 3;
                bytes[o] = b; bytes[o + 1] = g; bytes[o + 2] = r;
            }
        File.WriteAllBytes(path, bytes);
    }

    [Fact]
    public void Image_folder_reader_resizes_and_labels_by_folder()
    {
        var dir = Directory.CreateTempSubdirectory("tessera-img-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(dir, "black"));
            Directory.CreateDirectory(Path.Combine(dir, "white"));
            WriteBmp(Path.Combine(dir, "black", "a.bmp"), 10, 6, 0, 0, 0);
            WriteBmp(Path.Combine(dir, "white", "b.bmp"), 7, 9, 255, 255, 255);
            WriteBmp(Path.Combine(dir, "white", "c.bmp"), 4, 4, 255, 255, 255);
            File.WriteAllText(Path.Combine(dir, "white", "notes.txt"), "not an image");
            var (data, classes) = ImageFolderDataset.Read(dir, 8, 8);
            Assert.Equal(["black", "white"], classes);
            Assert.Equal(3, data.Count);
            Assert.Equal([1, 8, 8], data.SampleShape);
            var f = new float[64];
            Assert.Equal(0, data.Read(0, f));
            Assert.All(f, v => Assert.Equal(0f, v));
            Assert.Equal(1, data.Read(2, f));
            Assert.All(f, v => Assert.Equal(1f, v, 5));
            var (rgb, _) = ImageFolderDataset.Read(dir, 5, 5, grey: false);
            Assert.Equal([3, 5, 5], rgb.SampleShape);

            File.WriteAllText(Path.Combine(dir, "black", "broken.png"), "not a png");
            Assert.Contains("broken.png", Assert.Throws<InvalidDataException>(() => ImageFolderDataset.Read(dir, 8, 8)).Message);
        }
        finally { Directory.Delete(dir, true); }
    }
}
