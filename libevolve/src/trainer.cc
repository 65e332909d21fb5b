// Trainer's defaults for training on the queue: one part, which is the
// whole of Train (evolve/trainer.h).
#include "evolve/trainer.h"

namespace evolve {

Result<TrainingPlan> Trainer::PlanTraining(const ModelSpec& spec) {
  (void)spec;
  return TrainingPlan{};
}

Result<std::string> Trainer::TrainPart(const TrainingTask& task) {
  if (task.parts != 1 || task.part != 0) {
    return InvalidArgumentError("training part " + std::to_string(task.part) + " of " +
                                std::to_string(task.parts) + ": this trainer trains a model in one part");
  }
  EVOLVE_ASSIGN_OR_RETURN(TrainedModel trained, Train(task.spec));
  return trained.model_id;
}

Result<TrainedModel> Trainer::AssembleModel(const TrainingTask& task) {
  if (task.part_outputs.size() != 1 || task.part_outputs[0].empty()) {
    return InvalidArgumentError("assembling a model: this trainer expects one part's output (a model id), got " +
                                std::to_string(task.part_outputs.size()));
  }
  return TrainedModel{task.part_outputs[0], {}};
}

}  // namespace evolve
