using System.CommandLine;
using System.Globalization;
using Tessera.Data;
using Tessera.Onnx;
using Tessera.OnnxRuntime;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera run</c> (ONNX model on TensorProto files) and <c>tessera predict</c> (image classification).</summary>
internal static class OnnxCommands
{
    private static Option<string> EngineOption() => new("--engine")
    {
        Description = "Inference engine: native (Tessera) or onnxruntime.",
        DefaultValueFactory = _ => "native",
    };

    private static IInferenceModel Open(string path, string engine) => engine switch
    {
        "native" => OnnxModel.Load(path),
        "onnxruntime" or "ort" => OrtModel.Load(path),
        _ => throw new ArgumentException($"unknown engine '{engine}' (native or onnxruntime)."),
    };

    public static Command CreateRun()
    {
        var model = new Argument<FileInfo>("MODEL") { Description = "ONNX model file." };
        var inputs = new Option<FileInfo[]>("--inputs") { Description = "TensorProto .pb files (SequenceProto/OptionalProto for sequence and optional inputs), matched to the model's inputs in order.", Required = true, AllowMultipleArgumentsPerToken = true };
        var outputs = new Option<DirectoryInfo>("--outputs") { Description = "Directory for DIR/<output name>.pb.", Required = true };
        var engine = EngineOption();
        var cmd = new Command("run", "Run an ONNX model on TensorProto inputs and write its outputs as TensorProto files.") { model, inputs, outputs, engine };
        cmd.SetAction(parse => Guard(() =>
        {
            using var m = Open(parse.GetValue(model)!.FullName, parse.GetValue(engine)!);
            var files = parse.GetValue(inputs)!;
            if (files.Length != m.Inputs.Count)
                throw new ArgumentException($"the model has {m.Inputs.Count} inputs ({string.Join(", ", m.Inputs)}), {files.Length} files were given.");
            // Sequence and optional inputs/outputs (SequenceProto/OptionalProto files) go through the native RunValues.
            var feed = new Dictionary<string, object>();
            for (int i = 0; i < files.Length; i++) feed[m.Inputs[i].Name] = OnnxTensors.ReadValueFile(files[i].FullName, m.Inputs[i].Kind, m.Inputs[i].DType);
            var result = m is OnnxModel native ? native.RunValues(feed)
                : m.Run(feed.ToDictionary(p => p.Key, p => (Tensor)p.Value)).ToDictionary(p => p.Key, p => (object)p.Value);
            var dir = parse.GetValue(outputs)!;
            Directory.CreateDirectory(dir.FullName);
            foreach (var (name, v) in result)
            {
                var path = Path.Combine(dir.FullName, SafeFileName(name) + ".pb");
                OnnxTensors.WriteValueFile(v, name, path);
                Console.WriteLine($"{name}: {(v is Tensor t ? $"{t.DType.Name()} {t.ShapeString}" : v.ToString())} -> {path}");
            }
            return 0;
        }));
        return cmd;
    }

    public static Command CreatePredict()
    {
        var model = new Argument<FileInfo>("MODEL") { Description = "ONNX image classifier taking (1, 3, H, W)." };
        var image = new Argument<FileInfo>("IMAGE") { Description = "PNG or JPEG image." };
        var labels = new Option<FileInfo?>("--labels") { Description = "Labels file, one class per line." };
        var top = new Option<int>("--top") { Description = "How many classes to print.", DefaultValueFactory = _ => 5 };
        var engine = EngineOption();
        var cmd = new Command("predict", "Classify an image: resize 256, center-crop 224, ImageNet normalization, top-k.") { model, image, labels, top, engine };
        cmd.SetAction(parse => Guard(() =>
        {
            using var m = Open(parse.GetValue(model)!.FullName, parse.GetValue(engine)!);
            var input = m.Inputs[0];
            int size = input.Shape.Length == 4 && input.Shape[3] > 0 ? input.Shape[3] : 224;
            var x = ImageClassification.Preprocess(parse.GetValue(image)!.FullName, resize: size * 256 / 224, crop: size);
            var logits = m.Run(new Dictionary<string, Tensor> { [input.Name] = x })[m.Outputs[0].Name];
            var names = parse.GetValue(labels) is { } lf ? ImageClassification.ReadLabels(lf.FullName) : null;
            foreach (var (cls, label, p) in ImageClassification.TopK(logits, parse.GetValue(top), names))
                Console.WriteLine($"{p.ToString("P2", CultureInfo.InvariantCulture),8}  {cls,5}  {label}");
            return 0;
        }));
        return cmd;
    }

    private static string SafeFileName(string name) => string.Concat(name.Select(c => Path.GetInvalidFileNameChars().Contains(c) || c == '/' ? '_' : c));

    private static int Guard(Func<int> body) => CliErrors.Guard(() =>
    {
        try { return body(); }
        catch (OnnxUnsupportedException e) { throw new InvalidOperationException(e.Message, e); }
        catch (OnnxFormatException e) { throw new InvalidDataException(e.Message, e); }
    });
}
