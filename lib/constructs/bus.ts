import * as events from 'aws-cdk-lib/aws-events';
import { Construct } from 'constructs';

/** The Herald event bus: the api function puts published events here; rules fan them out. */
export class Bus extends Construct {
  public readonly bus: events.EventBus;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    // Let CloudFormation name it: names are the stack's business, not the code's.
    this.bus = new events.EventBus(this, 'Bus');
  }
}
