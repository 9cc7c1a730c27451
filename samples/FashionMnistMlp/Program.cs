// Fashion-MNIST with the networks: an MLP 784-256-128-10 (ReLU, Adam, batch 64) or, with "cnn", the small
// CNN conv32-pool-conv64-pool-fc128-fc10. Data: Debian's dataset-fashion-mnist (or a directory given as argument 2).
//   dotnet run -c Release --project samples/FashionMnistMlp -- [mlp|cnn] [DATA_DIR] [EPOCHS]
using Tessera.Data;
using Tessera.Nn;

string kind = args.Length > 0 ? args[0] : "mlp";
string dir = args.Length > 1 ? args[1] : "/usr/share/datasets/fashion-mnist";
int epochs = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 10;

NetworkConfig model = kind == "cnn"
    ? new ConvNetConfig([1, 28, 28], [new ConvLayerConfig(32), new ConvLayerConfig(64)], [128], 10)
    : new ModelConfig(784, [256, 128], 10, "relu");
var config = new TrainingConfig(model, optimizer: "adam", learningRate: 1e-3, batchSize: 64, seed: 1, epochs: epochs);

var (train, test) = IdxReader.ReadMnistDirectory(dir);
if (kind != "cnn") { train = train.WithSampleShape([784]); test = test.WithSampleShape([784]); }

using var trainer = new Trainer(config);
Console.WriteLine($"{kind}: {trainer.Model.ParameterCount:N0} parameters, {train.Count} training / {test.Count} test samples");
trainer.Fit(train, test, progress: null);
foreach (var m in trainer.History)
    Console.WriteLine($"epoch {m.Epoch,2}: train loss {m.TrainLoss:F4} acc {m.TrainAccuracy:P2} | test loss {m.ValidationLoss:F4} acc {m.ValidationAccuracy:P2} | {m.Seconds:F1} s, {m.SamplesPerSecond:F0} samples/s");
Console.WriteLine($"final test accuracy: {trainer.History[^1].ValidationAccuracy:P2}");
