import { ApiProperty, ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import { IsEmail, IsOptional, IsString, Length, Matches, MaxLength } from 'class-validator';
import { PageQuery } from '../common/pagination';

export class CreateCustomerDto {
  @ApiProperty({ maxLength: 200, description: 'Encrypted at rest' })
  @IsString()
  @Length(1, 200)
  name!: string;

  @ApiPropertyOptional({ maxLength: 320, description: 'Encrypted at rest; found with GET /customers?email=' })
  @IsOptional()
  @IsEmail()
  @MaxLength(320)
  email?: string;

  @ApiPropertyOptional({ maxLength: 40, description: 'Encrypted at rest' })
  @IsOptional()
  @IsString()
  @Matches(/^\+?[0-9 ().-]{3,40}$/, { message: 'phone must be a phone number' })
  phone?: string;
}

export class UpdateCustomerDto extends PartialType(CreateCustomerDto) {}

/** `GET /customers`: a page, optionally only the customers with this e-mail (case and surrounding spaces ignored). */
export class CustomerListQuery extends PageQuery {
  @ApiPropertyOptional({ maxLength: 320, description: 'Exact e-mail (found through its keyed hash)' })
  @IsOptional()
  @IsString()
  @MaxLength(320)
  email?: string;
}
